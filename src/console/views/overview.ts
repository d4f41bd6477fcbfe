import { formatTime, shortId } from "../../cli/format.js";
import type { AuditRecord, SessionSummary } from "../../store/store.js";
import { capMeters, meterHtml } from "../caps.js";
import type { ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, type NavState, notice, page } from "../layout.js";
import { lastCall, sessionHref } from "./rows.js";
import { UNRESOLVED_PATH, unresolvedCount } from "./unresolved.js";

/**
 * The overview: every active session that has made a call, with its agent, policy and
 * state, its money against each cap, calls, denials and its last call. The list is one
 * fragment, sent again over server-sent events whenever the audit or a session changes.
 */

/** At most this many sessions are shown; the rest are counted. */
const MAX_SESSIONS = 100;

export const OVERVIEW_LIVE = `${CONSOLE_PATH}/live/overview`;

export async function overviewPage(
  ctx: ConsoleContext,
  nav: NavState,
  flash: string | null,
): Promise<string> {
  const body = html`<h1>Overview</h1>
${notice(flash)}
<div data-live="${OVERVIEW_LIVE}" aria-live="polite">${await overviewFragment(ctx)}</div>`;
  return page({ title: "Overview", body, nav });
}

export async function overviewFragment(ctx: ConsoleContext): Promise<SafeHtml> {
  const now = ctx.now();
  const active = await ctx.store.sessionSummaries({ state: "active", limit: MAX_SESSIONS * 5 });
  const live = active.filter((s) => !(s.expires_at !== null && now >= s.expires_at));
  const calling = live.filter((s) => s.calls > 0);
  const idle = live.length - calling.length;
  const unresolved = unresolvedNotice(await unresolvedCount(ctx));
  if (calling.length === 0) {
    const anyEver = (await ctx.store.listSessions({ limit: 1 })).length > 0;
    return html`${unresolved}${anyEver ? noActive(idle) : welcome()}${killAllForm(live.length)}${await recentSessions(ctx)}`;
  }
  const shown = calling.slice(0, MAX_SESSIONS);
  const agents = new Map<string, number>();
  for (const s of live) agents.set(s.agent, (agents.get(s.agent) ?? 0) + 1);
  return html`${unresolved}<p class="summary">${calling.length} active session(s)${
    idle > 0 ? ` and ${idle} that never made a call` : ""
  }${calling.length > shown.length ? `; the ${shown.length} newest are shown` : ""}.</p>
<div class="sessions">${await Promise.all(shown.map((s) => sessionCard(ctx, s, now)))}</div>
<section class="agents" aria-labelledby="agents-h"><h2 id="agents-h">Agents</h2>
<ul class="agent-list">${[...agents].map(
    ([agent, count]) =>
      html`<li><span class="agent">${agent}</span> <span class="muted">${count} active</span> <a class="button danger" href="${CONSOLE_PATH}/kill?agent=${encodeURIComponent(agent)}">Kill agent…</a></li>`,
  )}</ul>
${killAllForm(live.length)}</section>
${await recentSessions(ctx)}`;
}

const RECENT = 10;

/** The latest sessions that stopped (killed, ended, expired) after making calls. */
async function recentSessions(ctx: ConsoleContext): Promise<SafeHtml> {
  const stopped = (await ctx.store.sessionSummaries({ limit: RECENT * 5 }))
    .filter((s) => s.state !== "active" && s.calls > 0)
    .slice(0, RECENT);
  if (stopped.length === 0) return html``;
  return html`<section aria-labelledby="recent-h"><h2 id="recent-h">Recently stopped</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Session</th><th scope="col">Agent</th><th scope="col">State</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Denied</th><th scope="col">Why</th></tr></thead><tbody>${stopped.map(
    (s) =>
      html`<tr><td><a href="${sessionHref(s.id)}">${shortId(s.id)}</a></td><td>${s.agent}</td><td><span class="state ${s.state}">${s.state}</span></td><td class="num">${s.calls}</td><td class="num">${s.denied}</td><td>${s.killed_by ? `${s.killed_by}: ` : ""}${s.kill_reason ?? ""}</td></tr>`,
  )}</tbody></table></div></section>`;
}

async function sessionCard(ctx: ConsoleContext, s: SessionSummary, now: number): Promise<SafeHtml> {
  const policy = await ctx.policies.get(s.policy_hash);
  // The last call, and the customer of the latest of a few that named one.
  const recent = await ctx.store.queryAudit({ session: s.id, limit: 5 });
  const last = recent.at(-1);
  const customer = lastCustomer(recent);
  const meters = await capMeters(ctx.store, s, policy, customer, now);
  return html`<article class="session" data-session="${s.id}" aria-labelledby="h-${s.id}">
<header><h3 id="h-${s.id}"><a href="${sessionHref(s.id)}">${shortId(s.id)}</a></h3>
<span class="agent">${s.agent}</span> <span class="policy">${s.policy_name}</span> <span class="state ${s.state}">${s.state}</span></header>
<div class="meters">${meters.map((m) => meterHtml(m, policy !== undefined, s.id))}</div>
<dl class="counts"><div><dt>Calls</dt><dd data-calls>${s.calls}</dd></div><div><dt>Denied</dt><dd data-denied>${s.denied}</dd></div><div class="last"><dt>Last call</dt><dd>${lastCall(last)}</dd></div></dl>
<p class="actions"><span class="muted">since ${formatTime(s.started_at)}</span> <a class="button danger" href="${CONSOLE_PATH}/kill?session=${encodeURIComponent(s.id)}">Kill…</a></p>
</article>`;
}

/** The customer of the session's latest call that named one. */
export function lastCustomer(rows: readonly AuditRecord[]): string | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const customer = rows[i]?.customer;
    if (customer) return customer;
  }
  return null;
}

/** Writes nobody could prove: they count against the caps until a person rules on them. */
function unresolvedNotice(count: number): SafeHtml {
  if (count === 0) return html``;
  return html`<p class="notice warn" data-unresolved="${count}"><strong>${count} write(s) with an unknown outcome</strong> count against their agents' caps until you rule on them. <a href="${UNRESOLVED_PATH}">Resolve them</a></p>`;
}

function killAllForm(active: number): SafeHtml {
  return html`<p class="kill-all"><a class="button danger" href="${CONSOLE_PATH}/kill?all=1">Kill all…</a>
<span class="muted">${active} active session(s); also refuses sessions started later, until the kill/ALL flag is removed.</span></p>`;
}

function noActive(idle: number): SafeHtml {
  return html`<div class="empty"><h2>No active session</h2>
<p>No agent session is calling tools right now${idle > 0 ? ` (${idle} open session(s) never made a call)` : ""}. Past calls are in the <a href="${CONSOLE_PATH}/audit">audit</a>, money moved in <a href="${CONSOLE_PATH}/spend">spend</a>.</p></div>`;
}

function welcome(): SafeHtml {
  return html`<div class="empty"><h2>Nothing here yet</h2>
<p>No agent has used spendguard on this data directory. To see one here:</p>
<ol>
<li>Give an agent a key: <code>spendguard keys create --agent support-bot --policy policies/support-refunds.yaml</code> (or on the <a href="${CONSOLE_PATH}/keys">Keys</a> page).</li>
<li>Serve it: <code>spendguard serve --http</code> (add <code>--sandbox</code> to try it without a Stripe account), and point the agent's MCP client at <code>/mcp</code> with that key.</li>
<li>Or watch a scripted agent first: <code>npm run demo</code>, then open the console on the data it made.</li>
</ol>
<p>Sessions appear here, live, as soon as they make their first call.</p></div>`;
}
