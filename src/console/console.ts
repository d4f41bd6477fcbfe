import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Logger } from "../logger.js";
import { PolicyIndex } from "../operator/known-policies.js";
import type { Store } from "../store/store.js";
import type { HttpRoute } from "../transports/http.js";
import { PACKAGE_ROOT } from "../version.js";
import type { ConsoleContext } from "./context.js";
import { html } from "./html.js";
import { ASSETS_PATH, CONSOLE_PATH, type NavEntry, type NavState, page } from "./layout.js";
import { fragmentStream, LiveFeed } from "./live.js";
import { readForm, redirect, sendHtml, sendText } from "./request.js";
import { OperatorSignIn, type SignedIn } from "./sign-in.js";
import {
  APPROVALS_LIVE,
  approvalsFragment,
  approvalsPage,
  decide,
  pendingCount,
} from "./views/approvals.js";
import { AUDIT_LIVE, AUDIT_PATH, auditPage, auditStream, exportAudit } from "./views/audit.js";
import { createKey, KEYS_PATH, keysPage, policyChoices, revokeKey } from "./views/keys.js";
import { KILL_PATH, kill, killChoice, killPage } from "./views/kill.js";
import { OVERVIEW_LIVE, overviewFragment, overviewPage } from "./views/overview.js";
import { findSummary, sessionFragment, sessionPage } from "./views/session.js";
import { SPEND_PATH, spendPage } from "./views/spend.js";
import {
  findUnresolved,
  RULING_PATH,
  recordRuling,
  rulingPage,
  UNRESOLVED_LIVE,
  UNRESOLVED_PATH,
  unresolvedCount,
  unresolvedFragment,
  unresolvedPage,
} from "./views/unresolved.js";

/**
 * The operator console (`/console`): sign-in, the live overview, spend, session detail
 * with kill, approvals, writes with an unknown outcome to rule on, audit with exports,
 * keys. Mounted on `serve --http` through the
 * HTTP server's extra routes, or served alone by `spendguard console`; either way behind
 * the same Host and Origin checks as `/mcp`. Pages are rendered here (escaped by
 * default); the bundled script only makes them live and draws the charts.
 */

export interface ConsoleOptions {
  store: Store;
  home: string;
  logger: Logger;
  /** Policy files besides the keys' and the shipped ones (SPENDGUARD_POLICY). */
  policyFiles?: readonly string[];
  now?: () => number;
}

export interface Console {
  /** The HTTP route: answers every path under `/console`. */
  route: HttpRoute;
  signIn: OperatorSignIn;
  /** Ends the live streams. */
  close(): void;
}

/** Where `npm run build` puts the page's script and stylesheet. */
const ASSETS_DIR = join(PACKAGE_ROOT, "dist", "console");
const ASSETS: Record<string, string> = {
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};

export function createConsole(options: ConsoleOptions): Console {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const signIn = new OperatorSignIn({ store, logger, now });
  const extraPolicies = options.policyFiles ?? [];
  const keyPolicyFiles = async () => [
    ...extraPolicies,
    ...(await store.listApiKeys()).map((k) => k.policy_file).filter((f): f is string => f !== null),
  ];
  const ctx: ConsoleContext = {
    store,
    home: options.home,
    logger,
    policies: new PolicyIndex(keyPolicyFiles),
    signIn,
    now,
  };
  const feed = new LiveFeed(store);
  const assets = new Map<string, Buffer>();
  /** One message per signed-in session, shown by the page a POST redirects to. */
  const flashes = new Map<string, string>();
  const flash = (who: SignedIn, text: string) => flashes.set(who.csrf, text);
  const takeFlash = (who: SignedIn) => {
    const text = flashes.get(who.csrf) ?? null;
    flashes.delete(who.csrf);
    return text;
  };
  const nav = async (who: SignedIn, current: NavEntry): Promise<NavState> => ({
    operator: who.operator,
    csrf: who.csrf,
    current,
    pendingApprovals: await pendingCount(ctx),
    unresolved: await unresolvedCount(ctx),
  });

  const asset = (res: ServerResponse, name: string) => {
    const type = ASSETS[name];
    if (!type) return sendText(res, 404, "No such asset.");
    let bytes = assets.get(name);
    if (!bytes) {
      try {
        bytes = readFileSync(join(ASSETS_DIR, name));
        assets.set(name, bytes);
      } catch {
        return sendText(res, 500, `The console's ${name} is missing: run npm run build.`);
      }
    }
    res
      .writeHead(200, {
        "Content-Type": type,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      })
      .end(bytes);
  };

  const get = async (req: IncomingMessage, res: ServerResponse, url: URL, who: SignedIn) => {
    const path = url.pathname;
    const allowed = async () => (await signIn.signedIn(req)) !== undefined;
    if (path === CONSOLE_PATH || path === `${CONSOLE_PATH}/`) {
      return sendHtml(
        res,
        200,
        await overviewPage(ctx, await nav(who, "overview"), takeFlash(who)),
      );
    }
    if (path === OVERVIEW_LIVE) {
      return feed.listen(
        req,
        res,
        fragmentStream("overview", async () => (await overviewFragment(ctx)).value, allowed),
      );
    }
    if (path === SPEND_PATH)
      return sendHtml(res, 200, await spendPage(ctx, await nav(who, "spend")));
    if (path === `${CONSOLE_PATH}/approvals`) {
      return sendHtml(
        res,
        200,
        await approvalsPage(ctx, await nav(who, "approvals"), takeFlash(who)),
      );
    }
    if (path === APPROVALS_LIVE) {
      return feed.listen(
        req,
        res,
        fragmentStream(
          `approvals:${who.csrf}`,
          async () => (await approvalsFragment(ctx, who.csrf)).value,
          allowed,
        ),
      );
    }
    if (path === UNRESOLVED_PATH) {
      return sendHtml(
        res,
        200,
        await unresolvedPage(ctx, await nav(who, "unresolved"), takeFlash(who)),
      );
    }
    if (path === UNRESOLVED_LIVE) {
      return feed.listen(
        req,
        res,
        fragmentStream("unresolved", async () => (await unresolvedFragment(ctx)).value, allowed),
      );
    }
    const ruling = RULING_PATH.exec(path);
    if (ruling?.[1]) {
      const admission = await findUnresolved(ctx, ruling[1]);
      if (!admission) return notFound(res, who);
      return sendHtml(res, 200, rulingPage(await nav(who, "unresolved"), admission));
    }
    if (path === AUDIT_PATH)
      return sendHtml(res, 200, await auditPage(ctx, await nav(who, "audit"), url.searchParams));
    if (path === `${AUDIT_PATH}/export.csv`)
      return await exportAudit(ctx, res, "csv", url.searchParams);
    if (path === `${AUDIT_PATH}/export.json`)
      return await exportAudit(ctx, res, "json", url.searchParams);
    if (path === AUDIT_LIVE)
      return feed.listen(req, res, await auditStream(ctx, url.searchParams, allowed));
    if (path === KEYS_PATH) {
      const text = takeFlash(who);
      return sendHtml(
        res,
        200,
        await keysPage(
          ctx,
          await nav(who, "keys"),
          await policyChoices(ctx, extraPolicies),
          text ? { text, kind: "ok" } : null,
        ),
      );
    }
    if (path === KILL_PATH) {
      const choice = killChoice(url.searchParams);
      if (!choice) return notFound(res, who);
      return sendHtml(res, 200, killPage(await nav(who, "none"), choice));
    }
    const session = /^\/console\/(live\/)?sessions\/(ses_[0-9a-f]{24})$/.exec(path);
    if (session?.[2]) {
      const id = session[2];
      const summary = await findSummary(ctx, id);
      if (!summary) return notFound(res, who);
      if (session[1]) {
        return feed.listen(
          req,
          res,
          fragmentStream(
            `session:${id}`,
            async () => {
              const fresh = await findSummary(ctx, id);
              return fresh ? (await sessionFragment(ctx, fresh)).value : "";
            },
            allowed,
          ),
        );
      }
      return sendHtml(
        res,
        200,
        await sessionPage(ctx, await nav(who, "none"), summary, takeFlash(who)),
      );
    }
    return notFound(res, who);
  };

  const post = async (req: IncomingMessage, res: ServerResponse, url: URL, who: SignedIn) => {
    const read = await readForm(req);
    if (!read.ok) return sendText(res, read.status, "A console form is form-encoded and small.");
    const form = read.form;
    if (!signIn.csrfValid(who, form.get("csrf"))) {
      logger.warn(
        { path: url.pathname, operator: who.operator },
        "console form without a valid CSRF token",
      );
      return sendHtml(
        res,
        403,
        page({
          title: "Refused",
          nav: await nav(who, "none"),
          body: html`<h1>Refused</h1><p class="notice error" role="alert">This form did not carry this console's CSRF token, so nothing was done. Reload the page and try again.</p>`,
        }),
      );
    }
    const path = url.pathname;
    if (path === KILL_PATH) {
      const choice = killChoice(form);
      if (!choice) return notFound(res, who);
      const done = await kill(ctx, who, choice, form.get("reason") ?? "");
      if (!done.ok)
        return sendHtml(res, done.status, killPage(await nav(who, "none"), choice, done.message));
      flash(who, done.message);
      return redirect(res, done.back);
    }
    const approval = /^\/console\/approvals\/(apr_[0-9a-f]{24})$/.exec(path);
    if (approval?.[1]) {
      flash(who, (await decide(ctx, who, approval[1], form)).message);
      return redirect(res, `${CONSOLE_PATH}/approvals`);
    }
    const ruling = RULING_PATH.exec(path);
    if (ruling?.[1]) {
      const id = ruling[1];
      const done = await recordRuling(ctx, who, id, form);
      if (done.ok) {
        flash(who, done.message);
        return redirect(res, UNRESOLVED_PATH);
      }
      const admission = await findUnresolved(ctx, id);
      if (!admission) return notFound(res, who);
      return sendHtml(
        res,
        done.status,
        rulingPage(await nav(who, "unresolved"), admission, done.message, done.given),
      );
    }
    if (path === KEYS_PATH) {
      const policies = await policyChoices(ctx, extraPolicies);
      const created = await createKey(ctx, form, policies);
      return sendHtml(
        res,
        created.ok ? 200 : 400,
        created.ok
          ? await keysPage(ctx, await nav(who, "keys"), policies, null, created)
          : await keysPage(ctx, await nav(who, "keys"), policies, {
              text: created.message,
              kind: "error",
            }),
      );
    }
    const revoke = /^\/console\/keys\/(key_[0-9a-f]{16})\/revoke$/.exec(path);
    if (revoke?.[1]) {
      flash(who, (await revokeKey(ctx, revoke[1])).message);
      return redirect(res, KEYS_PATH);
    }
    return notFound(res, who);
  };

  const route: HttpRoute = async (req, res, url) => {
    const path = url.pathname;
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return false;
    if (path.startsWith(`${ASSETS_PATH}/`)) {
      if (req.method !== "GET" && req.method !== "HEAD") res.writeHead(405, { Allow: "GET" }).end();
      else asset(res, path.slice(ASSETS_PATH.length + 1));
      return true;
    }
    if (await signIn.handle(req, res, url)) return true;
    const who = await signIn.signedIn(req);
    // A live stream never ends, so it is GET only (a HEAD would hold a socket for nothing).
    const streaming = path.startsWith(`${CONSOLE_PATH}/live/`);
    if (req.method === "GET" || (req.method === "HEAD" && !streaming)) {
      if (!who) {
        if (streaming) sendText(res, 401, "Not signed in.");
        else signIn.requireSignIn(res, url);
        return true;
      }
      await get(req, res, url, who);
      return true;
    }
    if (req.method === "POST") {
      if (!who) {
        sendText(res, 403, "Not signed in: sign in at /console/sign-in, then try again.");
        return true;
      }
      await post(req, res, url, who);
      return true;
    }
    res.writeHead(405, { Allow: "GET, POST" }).end();
    return true;
  };

  return { route, signIn, close: () => feed.close() };
}

function notFound(res: ServerResponse, who: SignedIn): void {
  sendHtml(
    res,
    404,
    page({
      title: "Not found",
      nav: { operator: who.operator, csrf: who.csrf, current: "none" },
      body: html`<h1>Not found</h1><p>Nothing here (an ended session is still found from the <a href="${CONSOLE_PATH}/audit">audit</a>; a write ruled on is no longer in <a href="${UNRESOLVED_PATH}">Unresolved</a>). <a href="${CONSOLE_PATH}">Back to the overview</a>.</p>`,
    }),
  );
}
