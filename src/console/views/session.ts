import { formatTime } from "../../cli/format.js";
import { toolLimits } from "../../guard/caps.js";
import { formatMoney } from "../../money/currency.js";
import type { LoadedPolicy } from "../../policy/load.js";
import type { SessionRecord, SessionSummary } from "../../store/store.js";
import { capMeters, meterHtml } from "../caps.js";
import type { ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, type NavState, notice, page } from "../layout.js";
import { lastCustomer } from "./overview.js";
import { AUDIT_HEADERS, auditRow } from "./rows.js";

/**
 * One session: who and what it is, its caps and what is left of each, its calls as audit
 * rows (newest first), and the kill button. The caps and rows are live.
 */

const ROWS = 200;

export function sessionLivePath(id: string): string {
  return `${CONSOLE_PATH}/live/sessions/${encodeURIComponent(id)}`;
}

/** The session as `sessionSummaries` has it (spend, calls), or undefined. */
export async function findSummary(
  ctx: ConsoleContext,
  id: string,
): Promise<SessionSummary | undefined> {
  const session = await ctx.store.getSession(id);
  if (!session) return undefined;
  // Newest first, so the session is near the front for an agent with many.
  return (await ctx.store.sessionSummaries({ agent: session.agent, limit: 10_000 })).find(
    (s) => s.id === id,
  );
}

export async function sessionPage(
  ctx: ConsoleContext,
  nav: NavState,
  summary: SessionSummary,
  flash: string | null,
): Promise<string> {
  const keyId = await ctx.store.sessionKey(summary.id);
  const body = html`<p class="crumbs"><a href="${CONSOLE_PATH}">Overview</a> › session</p>
<h1>Session <code>${summary.id}</code></h1>
${notice(flash)}
<dl class="facts">
<div><dt>Agent</dt><dd>${summary.agent}</dd></div>
<div><dt>Policy</dt><dd>${summary.policy_name} <span class="muted">${summary.policy_hash.slice(0, 12)}</span></dd></div>
<div><dt>Started</dt><dd>${formatTime(summary.started_at)} UTC</dd></div>
<div><dt>Key</dt><dd>${keyId ?? "stdio (no key)"}</dd></div>
</dl>
<div data-live="${sessionLivePath(summary.id)}" aria-live="polite">${await sessionFragment(ctx, summary)}</div>`;
  return page({ title: `Session ${summary.id.slice(0, 12)}`, body, nav });
}

export async function sessionFragment(
  ctx: ConsoleContext,
  summary: SessionSummary,
): Promise<SafeHtml> {
  const now = ctx.now();
  const policy = await ctx.policies.get(summary.policy_hash);
  const rows = await ctx.store.queryAudit({ session: summary.id, limit: ROWS });
  const meters = await capMeters(ctx.store, summary, policy, lastCustomer(rows), now);
  return html`${stateLine(summary, now)}
<section aria-labelledby="caps-h"><h2 id="caps-h">Caps and what is left</h2>
<div class="meters wide">${meters.map((m) => meterHtml(m, policy !== undefined, "detail"))}</div>
${policy ? await capTable(ctx, summary, policy) : html`<p class="muted">The policy file this session ran under was not found (or has changed since it started), so its caps are not known here.</p>`}
</section>
<section aria-labelledby="calls-h"><h2 id="calls-h">Calls</h2>
<p>${summary.calls} call(s), ${summary.denied} denied.${rows.length === ROWS ? ` The ${ROWS} latest rows:` : ""} <a href="${CONSOLE_PATH}/audit?session=${encodeURIComponent(summary.id)}">In the audit</a></p>
${
  rows.length === 0
    ? html`<p class="muted">No call yet.</p>`
    : html`<div class="table-wrap"><table class="audit"><thead>${AUDIT_HEADERS}</thead><tbody>${[...rows].reverse().map(auditRow)}</tbody></table></div>`
}
</section>`;
}

function stateLine(s: SessionRecord, now: number): SafeHtml {
  const lapsed = s.state === "active" && s.expires_at !== null && now >= s.expires_at;
  if (s.state === "active" && !lapsed) {
    return html`<p class="state-line"><span class="state active">active</span>${s.expires_at !== null ? ` until ${formatTime(s.expires_at)} UTC` : ""}
<a class="button danger" href="${CONSOLE_PATH}/kill?session=${encodeURIComponent(s.id)}">Kill session…</a></p>`;
  }
  const state = lapsed ? "expired" : s.state;
  return html`<p class="state-line"><span class="state ${state}">${state}</span>${s.state_changed_at !== null ? ` since ${formatTime(s.state_changed_at)} UTC` : ""}${s.killed_by ? ` by ${s.killed_by}` : ""}${s.kill_reason ? html`: <q>${s.kill_reason}</q>` : ""}</p>`;
}

async function capTable(
  ctx: ConsoleContext,
  s: SessionSummary,
  policy: LoadedPolicy,
): Promise<SafeHtml> {
  const caps = policy.caps;
  const money = (minor: number | null) =>
    minor === null ? "no cap" : formatMoney(minor, caps.currency);
  const calls = await ctx.store.callsInSession(s.id);
  const tools = Object.keys(policy.policy.tools).sort();
  const limits = tools
    .map((tool) => ({
      tool,
      limit: toolLimits(policy.policy, tool).perSession,
      used: calls[tool] ?? 0,
    }))
    .filter((t) => t.limit !== null || t.used > 0);
  return html`<div class="table-wrap"><table class="caps"><thead><tr><th scope="col">Cap</th><th scope="col" class="num">Limit</th><th scope="col" class="num">Used</th><th scope="col" class="num">Left</th></tr></thead><tbody>
<tr><th scope="row">Per call</th><td class="num">${money(caps.perCall)}</td><td></td><td></td></tr>
${limits.map(
  (t) =>
    html`<tr><th scope="row">${t.tool} calls this session</th><td class="num">${t.limit?.limit ?? "no limit"}</td><td class="num">${t.used}</td><td class="num">${t.limit ? Math.max(0, t.limit.limit - t.used) : ""}</td></tr>`,
)}
</tbody></table></div>`;
}
