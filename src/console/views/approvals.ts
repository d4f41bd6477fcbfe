import {
  type ApprovalView,
  approvalAmount,
  approvalViews,
  decideApproval,
} from "../../approvals/decisions.js";
import { formatTime } from "../../cli/format.js";
import { capMeters, meterHtml } from "../caps.js";
import { actor, type ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, csrfField, type NavState, notice, page } from "../layout.js";
import type { SignedIn } from "../sign-in.js";
import { sessionHref } from "./rows.js";

/**
 * The approval queue: each pending request with who asks, for whom, how much (in the
 * call's currency and the cap currency), why it needs a yes and what is left of the caps
 * now; approve or reject with a note, through the same `decideApproval` as
 * `spendguard approve|reject`, decided by `console:<operator>`.
 */

export const APPROVALS_PATH = `${CONSOLE_PATH}/approvals`;
export const APPROVALS_LIVE = `${CONSOLE_PATH}/live/approvals`;
const RECENT = 20;

export async function pendingCount(ctx: ConsoleContext): Promise<number> {
  return (await approvalViews(ctx.store, { pending: true }, ctx.now())).length;
}

export async function approvalsPage(
  ctx: ConsoleContext,
  nav: NavState,
  flash: string | null,
): Promise<string> {
  const body = html`<h1>Approvals</h1>
${notice(flash)}
<div data-live="${APPROVALS_LIVE}" aria-live="polite">${await approvalsFragment(ctx, nav.csrf)}</div>`;
  return page({ title: "Approvals", body, nav });
}

export async function approvalsFragment(ctx: ConsoleContext, csrf: string): Promise<SafeHtml> {
  const now = ctx.now();
  const pending = await approvalViews(ctx.store, { pending: true }, now);
  const recent = (await approvalViews(ctx.store, { limit: RECENT * 2 }, now))
    .filter((a) => a.state !== "pending")
    .slice(0, RECENT);
  return html`<section aria-labelledby="pending-h"><h2 id="pending-h">Pending (${pending.length})</h2>
${
  pending.length === 0
    ? html`<p class="empty">No call is waiting for a yes. A call the policy sends here (<code>require_approval_over</code>, <code>require_approval_for</code>) shows up at once; the agent retries it after your decision.</p>`
    : await Promise.all(pending.map((a) => pendingCard(ctx, a, csrf, now)))
}
</section>
<section aria-labelledby="recent-h"><h2 id="recent-h">Recently decided</h2>
${
  recent.length === 0
    ? html`<p class="muted">None yet.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th scope="col">Request</th><th scope="col">State</th><th scope="col">Call</th><th scope="col">Agent</th><th scope="col">Decided by</th><th scope="col">Note</th></tr></thead><tbody>${recent.map(
        (a) =>
          html`<tr><td><code>${a.id}</code></td><td>${a.state}</td><td>${a.tool} ${approvalAmount(a)} ${a.customer ?? ""}</td><td>${a.agent}</td><td>${a.decided_by ?? ""}</td><td>${a.decision_reason ?? ""}</td></tr>`,
      )}</tbody></table></div>`
}
</section>`;
}

async function pendingCard(
  ctx: ConsoleContext,
  a: ApprovalView,
  csrf: string,
  now: number,
): Promise<SafeHtml> {
  const session = (
    await ctx.store.sessionSummaries({ agent: a.agent, state: "active", limit: 1000 })
  ).find((s) => s.id === a.session);
  const policy = session ? await ctx.policies.get(session.policy_hash) : undefined;
  const meters = session ? await capMeters(ctx.store, session, policy, a.customer, now) : [];
  const amount = approvalAmount(a);
  return html`<article class="approval" data-approval="${a.id}" aria-labelledby="h-${a.id}">
<h3 id="h-${a.id}">${a.tool}${amount ? ` of ${amount}` : ""}${a.customer ? ` for ${a.customer}` : ""}</h3>
<dl class="facts">
<div><dt>Who</dt><dd>${a.agent}, session <a href="${sessionHref(a.session)}">${a.session.slice(0, 12)}</a></dd></div>
<div><dt>For whom</dt><dd>${a.customer ?? "no customer"}</dd></div>
<div><dt>How much</dt><dd>${amount || "no money moves"}</dd></div>
<div><dt>Why</dt><dd>policy rule <code>${a.rule}</code></dd></div>
<div><dt>Asked</dt><dd>${formatTime(a.created_at)} UTC, open until ${formatTime(a.expires_at)} UTC</dd></div>
</dl>
<details><summary>What the agent asks, in full</summary><pre class="summary">${a.summary}</pre></details>
${meters.length > 0 ? html`<div class="meters"><p class="muted">Caps now:</p>${meters.map((m) => meterHtml(m, policy !== undefined, a.id))}</div>` : ""}
<form method="post" action="${APPROVALS_PATH}/${a.id}">
${csrfField(csrf)}
<label for="note-${a.id}">Note (kept with the decision and in the audit)</label>
<input id="note-${a.id}" name="note" maxlength="500">
<p class="buttons"><button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="reject" class="danger">Reject</button></p>
</form>
</article>`;
}

export async function decide(
  ctx: ConsoleContext,
  signedIn: SignedIn,
  id: string,
  form: URLSearchParams,
): Promise<{ ok: boolean; message: string }> {
  const choice = form.get("decision");
  if (choice !== "approve" && choice !== "reject") {
    return { ok: false, message: "Choose approve or reject." };
  }
  const outcome = await decideApproval(ctx.store, id, {
    approve: choice === "approve",
    by: actor(signedIn),
    reason: form.get("note") ?? undefined,
    now: ctx.now(),
  });
  if (!outcome.ok) return { ok: false, message: outcome.message };
  return {
    ok: true,
    message:
      choice === "approve"
        ? `Approved ${id}: the agent's retry of that exact call goes through once.`
        : `Rejected ${id}: the agent's retry is refused (approval_declined).`,
  };
}
