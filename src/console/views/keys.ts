import { basename } from "node:path";
import { TOOLS } from "../../../tools/index.js";
import { formatTime } from "../../cli/format.js";
import { ConfigError } from "../../errors.js";
import { createApiKey, keyStatus, revokeApiKey } from "../../keys/api-keys.js";
import { shippedPolicyFiles } from "../../operator/known-policies.js";
import { loadPolicy, parseDuration } from "../../policy/load.js";
import type { ApiKeyRecord } from "../../store/store.js";
import type { ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, csrfField, type NavState, notice, page } from "../layout.js";

/**
 * Keys: every agent and operator key (never a secret: only ids, names, policies, dates),
 * a form to create one (the key is shown once, on the answer to that form, and never
 * again), and revoke buttons, through the same functions as `spendguard keys`. An agent
 * key's policy is chosen among the files spendguard already knows (the ready policies,
 * those of existing keys and SPENDGUARD_POLICY), not typed as a path: a browser never
 * makes the server read a file of its choosing.
 */

export const KEYS_PATH = `${CONSOLE_PATH}/keys`;
const EXPIRIES = ["", "1d", "7d", "30d", "90d", "365d"] as const;

export async function policyChoices(
  ctx: ConsoleContext,
  extra: readonly string[],
): Promise<string[]> {
  const fromKeys = (await ctx.store.listApiKeys())
    .map((k) => k.policy_file)
    .filter((f): f is string => f !== null);
  return [...new Set([...extra, ...fromKeys, ...shippedPolicyFiles()])];
}

export async function keysPage(
  ctx: ConsoleContext,
  nav: NavState,
  policies: readonly string[],
  message: { text: string; kind: "ok" | "error" } | null,
  created?: { record: ApiKeyRecord; key: string },
): Promise<string> {
  const now = ctx.now();
  const keys = await ctx.store.listApiKeys();
  const body = html`<h1>Keys</h1>
${message ? notice(message.text, message.kind) : ""}
${created ? createdKey(created) : ""}
<section aria-labelledby="list-h"><h2 id="list-h">All keys</h2>
${
  keys.length === 0
    ? html`<p class="empty">No key yet. An agent connecting over HTTP needs one, bound to a policy; an operator signs in here with one.</p>`
    : html`<div class="table-wrap"><table class="keys"><thead><tr><th scope="col">Id</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Created (UTC)</th><th scope="col">Expires (UTC)</th><th scope="col">Policy file</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead><tbody>${keys.map(
        (k) => keyRow(k, now, nav),
      )}</tbody></table></div>`
}
</section>
<section aria-labelledby="create-h"><h2 id="create-h">Create a key</h2>
<form class="create-key" method="post" action="${KEYS_PATH}">
${csrfField(nav.csrf)}
<fieldset><legend>Kind</legend>
<label><input type="radio" name="kind" value="agent" checked> Agent key (<code>sg_agent_…</code>): its sessions act as this agent under the policy</label>
<label><input type="radio" name="kind" value="operator"> Operator key (<code>sg_op_…</code>): signs in here, opens operator sessions</label>
</fieldset>
<label for="k-name">Name (agent or operator)</label>
<input id="k-name" name="name" required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}" autocomplete="off">
<label for="k-policy">Policy (agent keys)</label>
<select id="k-policy" name="policy">${policies.map(
    (file) => html`<option value="${file}">${basename(file, ".yaml")} — ${file}</option>`,
  )}</select>
<label for="k-expires">Expires</label>
<select id="k-expires" name="expires">${EXPIRIES.map(
    (e) => html`<option value="${e}">${e === "" ? "never" : `in ${e}`}</option>`,
  )}</select>
<p class="buttons"><button type="submit">Create key</button></p>
</form>
</section>`;
  return page({ title: "Keys", body, nav });
}

function keyRow(k: ApiKeyRecord, now: number, nav: NavState): SafeHtml {
  const status = keyStatus(k, now);
  return html`<tr data-key="${k.id}"><td><code>${k.id}</code></td><td>${k.kind}</td><td>${k.name}</td><td class="status ${status}">${status}${status === "revoked" && k.revoked_at !== null ? ` ${formatTime(k.revoked_at)}` : ""}</td><td>${formatTime(k.created_at)}</td><td>${k.expires_at === null ? "never" : formatTime(k.expires_at)}</td><td class="path">${k.policy_file ?? ""}</td><td>${
    status === "revoked"
      ? ""
      : html`<form method="post" action="${KEYS_PATH}/${k.id}/revoke">${csrfField(nav.csrf)}<button type="submit" class="danger" aria-label="Revoke ${k.id} (${k.name})">Revoke</button></form>`
  }</td></tr>`;
}

function createdKey(created: { record: ApiKeyRecord; key: string }): SafeHtml {
  return html`<section class="created" aria-labelledby="created-h"><h2 id="created-h">Key ${created.record.id} for ${created.record.kind} ${created.record.name}</h2>
<p>Copy it now: it is shown this once (spendguard keeps only its hash).</p>
<p><input class="secret" id="created-key" readonly value="${created.key}" aria-label="The new key" spellcheck="false"></p>
<p class="muted">HTTP clients send it as <code>Authorization: Bearer …</code>. Revoke it here or with <code>spendguard keys revoke ${created.record.id}</code>.</p></section>`;
}

export type CreateOutcome =
  | { ok: true; record: ApiKeyRecord; key: string }
  | { ok: false; message: string };

export async function createKey(
  ctx: ConsoleContext,
  form: URLSearchParams,
  policies: readonly string[],
): Promise<CreateOutcome> {
  const kind = form.get("kind") === "operator" ? "operator" : "agent";
  const name = form.get("name")?.trim() ?? "";
  const expires = form.get("expires") ?? "";
  if (!(EXPIRIES as readonly string[]).includes(expires))
    return { ok: false, message: "Choose an expiry from the list." };
  let policyFile: string | null = null;
  if (kind === "agent") {
    const chosen = form.get("policy") ?? "";
    if (!policies.includes(chosen)) return { ok: false, message: "Choose a policy from the list." };
    try {
      loadPolicy(chosen, TOOLS);
    } catch (error) {
      if (error instanceof ConfigError) return { ok: false, message: error.message };
      throw error;
    }
    policyFile = chosen;
  }
  const now = ctx.now();
  try {
    const created = await createApiKey(ctx.store, {
      kind,
      name,
      policyFile,
      expiresAt: expires === "" ? null : now + parseDuration(expires),
      now,
    });
    ctx.logger.info({ keyId: created.record.id, kind, name }, "console created a key");
    return { ok: true, ...created };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
}

export async function revokeKey(
  ctx: ConsoleContext,
  id: string,
): Promise<{ ok: boolean; message: string }> {
  try {
    const { record, changed } = await revokeApiKey(ctx.store, id, ctx.now());
    ctx.signIn.endSessionsOf(record.id);
    ctx.logger.info({ keyId: record.id }, "console revoked a key");
    return {
      ok: true,
      message: changed
        ? `Revoked ${record.id} (${record.kind} ${record.name}): refused from its next request on.`
        : `${record.id} was already revoked.`,
    };
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
}
