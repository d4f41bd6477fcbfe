import { readdirSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join, resolve } from "node:path";
import type { AnyTool } from "../../tools/tool.js";
import { html } from "../console/html.js";
import { page } from "../console/layout.js";
import { CONTENT_SECURITY_POLICY, readForm, redirect, sendHtml } from "../console/request.js";
import type { OperatorSignIn, SignedIn } from "../console/sign-in.js";
import { ConfigError } from "../errors.js";
import { checkAgentName } from "../keys/api-keys.js";
import { parseExpiry } from "../keys/expiry.js";
import type { Logger } from "../logger.js";
import { loadPolicy } from "../policy/load.js";
import type { Store } from "../store/store.js";
import {
  type AuthorizationRequest,
  type AuthorizeContext,
  approve,
  checkAuthorizationRequest,
  declineLocation,
  REQUEST_PARAMS,
} from "./authorize.js";
import type { OAuthError } from "./errors.js";
import { ENDPOINTS } from "./metadata.js";
import { isLoopbackRedirect, redirectHost } from "./redirect-uris.js";

/**
 * The pages of the authorization endpoint. A person sent to `/authorize` signs in as an
 * operator (the console's sign-in: agent keys are refused), sees which application asks
 * (its name, its client id, where the access will be sent, what it asks for) and chooses
 * what it gets — the agent name, the policy and the expiry, as `spendguard keys create`
 * would — or declines. Nothing is handed out without that choice. Every form carries the
 * session's CSRF token, and no page may be framed (`frame-ancestors 'none'`).
 */

export interface ConsentOptions {
  store: Store;
  signIn: OperatorSignIn;
  tools: readonly AnyTool[];
  /** Where the ready policies are (`policies/` of the package). */
  readyPolicies: string;
  logger: Logger;
  now?: () => number;
}

/** A policy the page offers. */
interface PolicyChoice {
  file: string;
  name: string;
}

const DEFAULT_EXPIRY = "30d";

export class ConsentPages {
  private readonly now: () => number;

  constructor(private readonly options: ConsentOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The operator sign-in and sign-out, which the consent page sends people through. */
  route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    return this.options.signIn.handle(req, res, url);
  }

  /** A request nothing can be sent back for (unknown client, wrong redirect URI). */
  refuse(res: ServerResponse, error: OAuthError): void {
    const body = html`<section class="oauth-error">
<h1>This sign-in cannot go on</h1>
<p class="notice error" role="alert"><code>${error.error}</code>: ${error.description}</p>
<p>Nothing was sent to the application. Start again from the application; if this keeps
happening, tell the operator of this spendguard.</p>
</section>`;
    sendHtml(res, 400, page({ title: "Sign-in refused", body }));
  }

  /** GET `/authorize` with a valid request: sign in first, then the choice. */
  async ask(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    request: AuthorizationRequest,
  ): Promise<void> {
    const signedIn = await this.options.signIn.signedIn(req);
    if (!signedIn) {
      this.options.signIn.requireSignIn(res, url);
      return;
    }
    const agent = defaultAgentName(request.client.record.name);
    await this.show(res, 200, request, signedIn, {
      agent,
      policy: (await this.policies())[0]?.file ?? "",
      otherPolicy: "",
      expires: DEFAULT_EXPIRY,
    });
  }

  /** POST `/authorize`: the operator's choice. */
  async decide(
    req: IncomingMessage,
    res: ServerResponse,
    context: AuthorizeContext,
  ): Promise<void> {
    const read = await readForm(req);
    if (!read.ok) {
      this.problem(res, read.status, "The form could not be read.");
      return;
    }
    const form = read.form;
    const signedIn = await this.options.signIn.signedIn(req);
    if (!signedIn) {
      this.problem(
        res,
        403,
        "You are not signed in as an operator (any more): start again from the application.",
      );
      return;
    }
    if (!this.options.signIn.csrfValid(signedIn, form.get("csrf"))) {
      this.options.logger.warn(
        { operator: signedIn.operator },
        "consent form without its CSRF token",
      );
      this.problem(
        res,
        403,
        "This form did not come from this consent page (its CSRF token is wrong): nothing was granted.",
      );
      return;
    }
    const query = new URLSearchParams();
    for (const name of REQUEST_PARAMS) {
      const value = form.get(name);
      if (value !== null) query.set(name, value);
    }
    const check = await checkAuthorizationRequest(query, context);
    if (check.kind === "page") {
      this.refuse(res, check.error);
      return;
    }
    if (check.kind === "redirect") {
      redirect(res, check.location);
      return;
    }
    const request = check.request;
    if (form.get("decision") !== "approve") {
      this.options.logger.info(
        { client: request.client.record.id, operator: signedIn.operator },
        "OAuth consent declined",
      );
      const revoked = await this.revokedGrant(request.client.record.id);
      const why = revoked
        ? `The operator declined to give this client access again: its access (grant ${revoked.id}, agent ${revoked.name}) was revoked.`
        : undefined;
      this.redirectToClient(res, request, declineLocation(request, context, why));
      return;
    }
    const chosen = {
      agent: (form.get("agent") ?? "").trim(),
      policy: form.get("policy") ?? "",
      otherPolicy: (form.get("other_policy") ?? "").trim(),
      expires: form.get("expires") ?? DEFAULT_EXPIRY,
    };
    let choice: { policyFile: string; expiresAt: number | null };
    try {
      checkAgentName(chosen.agent);
      const policyFile = this.policyFile(chosen.otherPolicy || chosen.policy);
      loadPolicy(policyFile, this.options.tools);
      let expiresAt: number | null;
      try {
        expiresAt = parseExpiry(chosen.expires, this.now());
      } catch (error) {
        if (error instanceof ConfigError) throw new ConfigError(`Expires ${error.message}.`);
        throw error;
      }
      choice = { policyFile, expiresAt };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      await this.show(res, 400, request, signedIn, chosen, error.message);
      return;
    }
    const { grant, location } = await approve(
      request,
      { agent: chosen.agent, ...choice },
      context,
      this.now(),
    );
    this.options.logger.info(
      {
        grant: grant.id,
        agent: grant.name,
        policyFile: grant.policy_file,
        client: request.client.record.id,
        operator: signedIn.operator,
      },
      "OAuth grant created",
    );
    this.redirectToClient(res, request, location);
  }

  private redirectToClient(res: ServerResponse, request: AuthorizationRequest, location: string) {
    // The form's CSP must let its submission end at the client (Chromium checks redirects).
    redirect(res, location, { "Content-Security-Policy": consentPolicy(request.redirectUri) });
  }

  private async show(
    res: ServerResponse,
    status: number,
    request: AuthorizationRequest,
    signedIn: SignedIn,
    values: { agent: string; policy: string; otherPolicy: string; expires: string },
    problem?: string,
  ): Promise<void> {
    const { client } = request;
    const host = redirectHost(request.redirectUri);
    const loopback = isLoopbackRedirect(request.redirectUri);
    const how =
      client.record.registration === "metadata_document"
        ? html`described by its metadata document at <strong>${new URL(client.record.id).host}</strong>`
        : html`registered itself from ${client.record.registered_by ?? "an unknown address"}`;
    const policies = await this.policies();
    const revoked = await this.revokedGrant(client.record.id);
    const body = html`<section class="consent">
<h1>Give <span id="client-name">${client.record.name}</span> access?</h1>
<p>Signed in as operator <strong>${signedIn.operator}</strong>.</p>
${problem ? html`<p class="notice error" role="alert" id="consent-error">${problem}</p>` : ""}
${
  revoked
    ? html`<p class="notice error" id="revoked-before">This application had access before, as agent
<strong>${revoked.name}</strong> (grant <code>${revoked.id}</code>), and it was revoked${
        revoked.revoked_reason ? html` (${revoked.revoked_reason})` : ""
      }. It is asking again.</p>`
    : ""
}
<dl>
<dt>Application</dt><dd>${client.record.name} <small>(client <code>${client.record.id}</code>, ${how})</small></dd>
<dt>Access goes to</dt><dd><strong id="redirect-host">${host}</strong>${
      loopback
        ? html` <span class="warning">— a program on the computer this browser runs on. Any program there can claim this application's name: give access only if you just started this sign-in yourself.</span>`
        : ""
    }</dd>
<dt>It asks for</dt><dd><code>${request.requestedScope || "(no scope named)"}</code> on ${request.resource}</dd>
</dl>
<p>It will act as an agent, like an agent key: what it may do, for whom and how much is the
policy you choose. Its calls are audited under the agent's name, and
<code>spendguard keys revoke</code> (or the console) stops it from its next request on.</p>
<form method="post" action="${ENDPOINTS.authorize}">
<input type="hidden" name="csrf" value="${signedIn.csrf}">
${Object.entries(request.params).map(
  ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
)}
<label for="agent">Agent name</label>
<input id="agent" name="agent" value="${values.agent}" required maxlength="64" spellcheck="false">
<label for="policy">Policy</label>
<select id="policy" name="policy">${policies.map(
      (p) =>
        html`<option value="${p.file}"${p.file === values.policy ? html` selected` : ""}>${p.name} (${p.file})</option>`,
    )}</select>
<label for="other-policy">Or another policy file on this server (absolute path)</label>
<input id="other-policy" name="other_policy" value="${values.otherPolicy}" spellcheck="false">
<label for="expires">Expires</label>
<input id="expires" name="expires" value="${values.expires}" required spellcheck="false"
 aria-describedby="expires-hint">
<small id="expires-hint">A duration (12h, 30d), a date (2026-12-31), or never.</small>
<p class="actions">
<button type="submit" name="decision" value="approve" id="approve">Give access</button>
<button type="submit" name="decision" value="decline" id="decline">Decline</button>
</p>
</form>
</section>`;
    sendHtml(res, status, page({ title: "Give access", body }), {
      "Content-Security-Policy": consentPolicy(request.redirectUri),
    });
  }

  private problem(res: ServerResponse, status: number, message: string): void {
    const body = html`<section class="oauth-error">
<h1>Nothing was granted</h1>
<p class="notice error" role="alert">${message}</p>
</section>`;
    sendHtml(res, status, page({ title: "Nothing was granted", body }));
  }

  /** The client's latest grant, if it was revoked and none is active: the page says so. */
  private async revokedGrant(clientId: string) {
    const grants = (await this.options.store.listApiKeys()).filter(
      (key) => key.credential === "oauth_grant" && key.oauth_client === clientId,
    );
    const latest = grants.at(-1);
    return latest?.revoked_at != null ? latest : undefined;
  }

  /** The ready policies and those agent identities already use, each once. */
  private async policies(): Promise<PolicyChoice[]> {
    const files = new Set<string>();
    try {
      for (const name of readdirSync(this.options.readyPolicies).sort()) {
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
          files.add(join(this.options.readyPolicies, name));
        }
      }
    } catch {
      // An install without policies/: the ones in use are still offered.
    }
    for (const key of await this.options.store.listApiKeys()) {
      if (key.kind === "agent" && key.policy_file) files.add(key.policy_file);
    }
    const choices: PolicyChoice[] = [];
    for (const file of files) {
      try {
        choices.push({ file, name: loadPolicy(file, this.options.tools).name });
      } catch {
        // An invalid or vanished file is not offered.
      }
    }
    return choices;
  }

  private policyFile(text: string): string {
    if (text === "") throw new ConfigError("Choose a policy.");
    if (!text.startsWith("/")) {
      throw new ConfigError("Give the policy file as an absolute path on this server.");
    }
    return resolve(text);
  }
}

/** The console's policy, with the form allowed to end at the client's redirect URI. */
function consentPolicy(redirectUri: string): string {
  const origin = new URL(redirectUri).origin;
  return CONTENT_SECURITY_POLICY.replace("form-action 'self'", `form-action 'self' ${origin}`);
}

/** An agent name from the client's name: `Claude Desktop` → `claude-desktop`. */
export function defaultAgentName(clientName: string): string {
  const name = clientName
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+|-+$/g, "")
    .slice(0, 64);
  return name || "oauth-client";
}
