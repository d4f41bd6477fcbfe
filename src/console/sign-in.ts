import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { checkApiKey, type KeyRefusal, keyStatus } from "../keys/api-keys.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import { RateLimiter } from "../transports/rate-limit.js";
import { html } from "./html.js";
import { CONSOLE_PATH, page } from "./layout.js";
import { cookiesOf, overTls, readForm, redirect, sendHtml } from "./request.js";

/**
 * Operator sign-in for the console and any other page an operator must be signed in to
 * (the OAuth consent page): an operator key (`sg_op_…`) is exchanged once for a session
 * cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over TLS, path `/`). The key itself is
 * never stored in the browser nor shown back. Agent keys cannot sign in. Each session has
 * a CSRF token that every state-changing form must carry; the sign-in form itself is
 * protected by a double-submit cookie. A session ends at sign-out, after `sessionTtlMs`,
 * or as soon as its key is revoked or expires. Sessions live in this process.
 */

export const SIGN_IN_PATH = `${CONSOLE_PATH}/sign-in`;
export const SIGN_OUT_PATH = `${CONSOLE_PATH}/sign-out`;
const SESSION_COOKIE = "spendguard_operator";
const SIGN_IN_COOKIE = "spendguard_sign_in";
const DEFAULT_SESSION_TTL_MS = 8 * 3_600_000;

/** Who a request is signed in as. */
export interface SignedIn {
  /** The operator key's name: deciders are recorded as `console:<name>`. */
  operator: string;
  keyId: string;
  /** The token state-changing forms carry (`csrf` field). */
  csrf: string;
}

interface ConsoleSession extends SignedIn {
  expiresAt: number;
}

export interface SignInOptions {
  store: Store;
  logger: Logger;
  now?: () => number;
  sessionTtlMs?: number;
}

export class OperatorSignIn {
  /** By SHA-256 of the cookie's token, so the map holds no usable secret. */
  private readonly sessions = new Map<string, ConsoleSession>();
  /** Sign-in attempts per client address: keys cannot be guessed, but tries cost nothing. */
  private readonly attempts = new RateLimiter(0.2, 10);
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly options: SignInOptions) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  }

  /** The operator this request is signed in as, if its session is live and its key usable. */
  async signedIn(req: IncomingMessage): Promise<SignedIn | undefined> {
    const token = cookiesOf(req).get(SESSION_COOKIE);
    if (!token) return undefined;
    const id = digest(token);
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const key = await this.options.store.getApiKey(session.keyId);
    if (this.now() >= session.expiresAt || !key || keyStatus(key, this.now()) !== "active") {
      this.sessions.delete(id);
      return undefined;
    }
    return { operator: session.operator, keyId: session.keyId, csrf: session.csrf };
  }

  /** Whether `token` (a form's `csrf` field) is this session's CSRF token. */
  csrfValid(signedIn: SignedIn, token: string | null | undefined): boolean {
    return typeof token === "string" && sameSecret(token, signedIn.csrf);
  }

  /** Sends a request that is not signed in to the sign-in page, to come back to `url`. */
  requireSignIn(res: ServerResponse, url: URL): void {
    const next = `${url.pathname}${url.search}`;
    redirect(res, `${SIGN_IN_PATH}?next=${encodeURIComponent(safeNext(next))}`);
  }

  /** Answers the sign-in and sign-out paths; false for any other. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname === SIGN_IN_PATH) {
      if (req.method === "GET") this.showForm(req, res, safeNext(url.searchParams.get("next")));
      else if (req.method === "POST") await this.signIn(req, res);
      else res.writeHead(405, { Allow: "GET, POST" }).end();
      return true;
    }
    if (url.pathname === SIGN_OUT_PATH) {
      if (req.method !== "POST") res.writeHead(405, { Allow: "POST" }).end();
      else await this.signOut(req, res);
      return true;
    }
    return false;
  }

  /** Ends every session of a key (e.g. when the console revokes it). */
  endSessionsOf(keyId: string): void {
    for (const [id, session] of this.sessions)
      if (session.keyId === keyId) this.sessions.delete(id);
  }

  private showForm(
    req: IncomingMessage,
    res: ServerResponse,
    next: string,
    problem?: { status: number; message: string },
  ): void {
    const formToken = randomBytes(24).toString("base64url");
    const body = html`<section class="sign-in">
<h1>Sign in</h1>
<p>Paste an operator key (<code>sg_op_…</code>). Make one on the spendguard host with
<code>spendguard keys create --operator --name YOUR_NAME</code>. Agent keys cannot sign in.</p>
${problem ? html`<p class="notice error" role="alert" id="sign-in-error">${problem.message}</p>` : ""}
<form method="post" action="${SIGN_IN_PATH}">
<input type="hidden" name="form_token" value="${formToken}">
<input type="hidden" name="next" value="${next}">
<label for="key">Operator key</label>
<input id="key" name="key" type="password" autocomplete="off" required autofocus
 spellcheck="false"${problem ? html` aria-describedby="sign-in-error"` : ""}>
<button type="submit">Sign in</button>
</form>
</section>`;
    sendHtml(res, problem?.status ?? 200, page({ title: "Sign in", body }), {
      "Set-Cookie": cookie(SIGN_IN_COOKIE, formToken, {
        secure: overTls(req),
        maxAgeSeconds: 3600,
        path: SIGN_IN_PATH,
      }),
    });
  }

  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readForm(req);
    if (!read.ok) {
      res.writeHead(read.status).end();
      return;
    }
    const form = read.form;
    const next = safeNext(form.get("next"));
    const expected = cookiesOf(req).get(SIGN_IN_COOKIE);
    if (!expected || !sameSecret(form.get("form_token") ?? "", expected)) {
      this.showForm(req, res, next, {
        status: 403,
        message: "This sign-in form has expired or did not come from this server; try again.",
      });
      return;
    }
    const address = req.socket.remoteAddress ?? "unknown";
    const rate = this.attempts.take(address);
    if (!rate.allowed) {
      this.showForm(req, res, next, {
        status: 429,
        message: `Too many sign-in attempts; try again in ${rate.retryAfterSeconds} s.`,
      });
      return;
    }
    const check = await checkApiKey(this.options.store, form.get("key")?.trim(), this.now());
    if (!check.ok || check.key.kind !== "operator") {
      const message = !check.ok
        ? REFUSALS[check.refusal]
        : "This is an agent key: agent keys cannot sign in. Use an operator key (spendguard keys create --operator --name YOUR_NAME).";
      this.options.logger.warn(
        { refusal: check.ok ? "agent_key" : check.refusal, keyId: check.key?.id },
        "console sign-in refused",
      );
      this.showForm(req, res, next, { status: 403, message });
      return;
    }
    const token = randomBytes(32).toString("base64url");
    this.prune();
    this.sessions.set(digest(token), {
      operator: check.key.name,
      keyId: check.key.id,
      csrf: randomBytes(32).toString("base64url"),
      expiresAt: this.now() + this.ttlMs,
    });
    this.options.logger.info(
      { keyId: check.key.id, operator: check.key.name },
      "operator signed in",
    );
    const secure = overTls(req);
    redirect(res, next, {
      "Set-Cookie": [
        cookie(SESSION_COOKIE, token, {
          secure,
          maxAgeSeconds: Math.floor(this.ttlMs / 1000),
          path: "/",
        }),
        cookie(SIGN_IN_COOKIE, "", { secure, maxAgeSeconds: 0, path: SIGN_IN_PATH }),
      ],
    });
  }

  private async signOut(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readForm(req);
    const signedIn = await this.signedIn(req);
    if (!read.ok || !signedIn || !this.csrfValid(signedIn, read.form.get("csrf"))) {
      res.writeHead(signedIn ? 403 : 303, signedIn ? {} : { Location: SIGN_IN_PATH }).end();
      return;
    }
    const token = cookiesOf(req).get(SESSION_COOKIE);
    if (token) this.sessions.delete(digest(token));
    redirect(res, SIGN_IN_PATH, {
      "Set-Cookie": cookie(SESSION_COOKIE, "", {
        secure: overTls(req),
        maxAgeSeconds: 0,
        path: "/",
      }),
    });
  }

  private prune(): void {
    const now = this.now();
    for (const [id, session] of this.sessions)
      if (now >= session.expiresAt) this.sessions.delete(id);
    this.attempts.prune();
  }
}

const NOT_A_KEY = "This is an OAuth access token, not a key: paste an operator key (sg_op_…).";
const REFUSALS: Record<KeyRefusal, string> = {
  key_missing: "Paste an operator key (sg_op_…).",
  key_invalid: "This key is not valid.",
  key_expired: "This key has expired; make a new one with spendguard keys create --operator.",
  key_revoked: "This key was revoked; make a new one with spendguard keys create --operator.",
  token_invalid: NOT_A_KEY,
  token_expired: NOT_A_KEY,
  token_revoked: NOT_A_KEY,
  token_wrong_resource: NOT_A_KEY,
  grant_expired: NOT_A_KEY,
  grant_revoked: NOT_A_KEY,
};

/** Only a path on this server (not `//host`, not a URL) may be where sign-in returns to. */
export function safeNext(next: string | null | undefined): string {
  if (!next || next.length > 2000 || !/^\/(?![/\\])[^\s\\]*$/.test(next)) return CONSOLE_PATH;
  return next;
}

function cookie(
  name: string,
  value: string,
  options: { secure: boolean; maxAgeSeconds: number; path: string },
): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${options.maxAgeSeconds}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(options.secure ? ["Secure"] : []),
  ].join("; ");
}

function digest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time comparison of two secrets of any length. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(digest(a), "hex"), Buffer.from(digest(b), "hex"));
}
