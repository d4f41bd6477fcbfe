import { printable } from "../../audit/text.js";
import { formatTime } from "../../cli/format.js";
import { KEY_LIFE_MS } from "../../guard/idempotency.js";
import {
  resolveAdmission,
  type UnresolvedAdmission,
  unresolvedAdmissions,
} from "../../guard/unresolved.js";
import { formatMoney, formatWithCap } from "../../money/currency.js";
import { actor, type ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, csrfField, type NavState, notice, page } from "../layout.js";
import type { SignedIn } from "../sign-in.js";
import { sessionHref } from "./rows.js";

/**
 * Writes whose outcome nobody could prove (Stripe's answer was lost, and neither sending
 * again inside the key's life nor reading Stripe for the write's stamp settled it): the
 * list, live, with what each counts against the caps meanwhile; and, one page per
 * admission, the ruling (it applied, or it did not) with a reason, through the same
 * `resolveAdmission` as `spendguard resolve`, decided by `console:<operator>`.
 */

export const UNRESOLVED_PATH = `${CONSOLE_PATH}/unresolved`;
export const UNRESOLVED_LIVE = `${CONSOLE_PATH}/live/unresolved`;
/** `/console/unresolved/adm_12`: the ruling page (GET) and its form (POST). */
export const RULING_PATH = /^\/console\/unresolved\/(adm_\d{1,18})$/;

export async function unresolvedCount(ctx: ConsoleContext): Promise<number> {
  return (await unresolvedAdmissions(ctx.store, ctx.now())).length;
}

/** The open admission `id`, or undefined when there is none (resolved, or no such id). */
export async function findUnresolved(
  ctx: ConsoleContext,
  id: string,
): Promise<UnresolvedAdmission | undefined> {
  return (await unresolvedAdmissions(ctx.store, ctx.now())).find((a) => a.id === id);
}

export async function unresolvedPage(
  ctx: ConsoleContext,
  nav: NavState,
  flash: string | null,
): Promise<string> {
  const body = html`<h1>Unresolved writes</h1>
${notice(flash)}
<div data-live="${UNRESOLVED_LIVE}" aria-live="polite">${await unresolvedFragment(ctx)}</div>`;
  return page({ title: "Unresolved", body, nav });
}

export async function unresolvedFragment(ctx: ConsoleContext): Promise<SafeHtml> {
  const open = await unresolvedAdmissions(ctx.store, ctx.now());
  if (open.length === 0) {
    return html`<div class="empty"><h2>Nothing to rule on</h2>
<p>Every write's outcome is known. When Stripe's answer to a write is lost (a timeout, a reset, a crash) spendguard finds out what happened by sending it again with the same idempotency key, while Stripe still holds it, or by reading Stripe for the write's stamp (<code>metadata[spendguard_admission]</code>). What neither proves shows up here, and keeps counting against the agent's caps until you rule on it: look it up in the Stripe Dashboard, then say whether it applied.</p>
<p class="muted">The same list: <code>spendguard admissions</code>.</p></div>`;
  }
  return html`<p class="summary">${open.length} write(s) whose outcome is not known. Each counts against its agent's caps until you rule on it: look it up in the Stripe Dashboard (its metadata <code>spendguard_admission</code> is its id), then resolve it.</p>
${open.map(
  (a) => html`<article class="admission" data-admission="${a.id}" aria-labelledby="h-${a.id}">
<h3 id="h-${a.id}">${headline(a)}</h3>
${facts(a)}
<p class="buttons"><a class="button" href="${UNRESOLVED_PATH}/${a.id}" aria-label="Resolve ${a.id}">Resolve…</a></p>
</article>`,
)}`;
}

/** `issue_refund of $20.00 for cus_123`. */
function headline(a: UnresolvedAdmission): string {
  const amount = amountOf(a);
  return `${a.tool}${amount ? ` of ${amount}` : ""}${a.customer ? ` for ${a.customer}` : ""}`;
}

function amountOf(a: UnresolvedAdmission): string {
  return formatWithCap(a.amount, a.currency, a.amount_cap, a.cap_currency);
}

/** What it counts against the caps now, in the cap currency where known. */
function counted(a: UnresolvedAdmission): string {
  if (a.amount_cap === 0) return "nothing (it moves no money)";
  return a.cap_currency
    ? formatMoney(a.amount_cap, a.cap_currency)
    : `${a.amount_cap} (minor units)`;
}

function facts(a: UnresolvedAdmission): SafeHtml {
  return html`<dl class="facts aligned">
<div><dt>Admission</dt><dd><code>${a.id}</code> <span class="muted">(in Stripe: metadata <code>spendguard_admission</code>)</span></dd></div>
<div><dt>Agent</dt><dd>${a.agent}, session <a href="${sessionHref(a.session)}">${a.session.slice(0, 12)}</a></dd></div>
<div><dt>Customer</dt><dd>${a.customer ?? "no customer"}${a.account ? `, connected account ${a.account}` : ""}</dd></div>
<div><dt>Amount</dt><dd>${amountOf(a) || "no money moves"}</dd></div>
<div><dt>Counts against the caps</dt><dd data-counted>${counted(a)}</dd></div>
<div><dt>Since</dt><dd><time datetime="${a.created_at}">${formatTime(a.created_at)}</time> UTC</dd></div>
<div><dt>What is known</dt><dd>${
    a.state === "unknown"
      ? "Stripe's answer was lost: it may or may not have applied."
      : "The process that sent it is gone: it may or may not have reached Stripe."
  }</dd></div>
<div><dt>Idempotency key</dt><dd data-key-alive="${a.key_alive}">${
    a.key_alive
      ? `Stripe may still hold it, until ${formatTime(Date.parse(a.created_at) + KEY_LIFE_MS)} UTC: the next spendguard process to serve this agent retries the write with it (if the call still passes every gate), which cannot apply it twice, and so learns the outcome.`
      : "Forgotten by Stripe (past 23 h): sent again, the write could apply twice, so it never is. Only Stripe's records can tell."
  }</dd></div>
</dl>
<details><summary>The arguments (as the audit keeps them, redacted)</summary><pre class="summary">${printable(a.args)}</pre></details>`;
}

export interface RulingForm {
  ruling: string | null;
  reason: string;
}

export function rulingPage(
  nav: NavState,
  a: UnresolvedAdmission,
  problem: string | null = null,
  given: RulingForm = { ruling: null, reason: "" },
): string {
  const amount = counted(a);
  const moves = a.amount_cap !== 0;
  const body = html`<p class="crumbs"><a href="${UNRESOLVED_PATH}">Unresolved</a> › ${a.id}</p>
<h1>Resolve <code>${a.id}</code>: ${headline(a)}</h1>
${notice(problem, "error")}
${facts(a)}
<form class="ruling" method="post" action="${UNRESOLVED_PATH}/${a.id}">
${csrfField(nav.csrf)}
<p>Look it up in the Stripe Dashboard first: every write spendguard sends carries <code>metadata[spendguard_admission]</code> = <code>${a.id}</code>${a.customer ? html`, and this one is on customer <code>${a.customer}</code>` : ""}. Your ruling is final and goes into the audit with your name.</p>
<fieldset><legend>What happened in Stripe?</legend>
<label><input type="radio" name="ruling" value="applied" required${given.ruling === "applied" ? html` checked` : ""}> It applied: ${moves ? `settle it, ${amount} stays counted as money moved` : "settle it"}</label>
<label><input type="radio" name="ruling" value="not_applied"${given.ruling === "not_applied" ? html` checked` : ""}> It did not apply: ${moves ? `release it, ${amount} stops counting against the caps` : "release it"}</label>
</fieldset>
<label for="reason">Reason: what you checked (kept in the audit)</label>
<textarea id="reason" name="reason" required maxlength="500" rows="2">${given.reason}</textarea>
<p class="buttons"><button type="submit">Record ruling</button> <a href="${UNRESOLVED_PATH}">Cancel</a></p>
</form>`;
  return page({ title: `Resolve ${a.id}`, body, nav });
}

export type RulingDone =
  | { ok: true; message: string }
  | { ok: false; status: number; message: string; given: RulingForm };

export async function recordRuling(
  ctx: ConsoleContext,
  signedIn: SignedIn,
  id: string,
  form: URLSearchParams,
): Promise<RulingDone> {
  const given: RulingForm = { ruling: form.get("ruling"), reason: form.get("reason") ?? "" };
  if (given.ruling !== "applied" && given.ruling !== "not_applied") {
    return {
      ok: false,
      status: 400,
      message: "Say what happened: it applied, or it did not.",
      given,
    };
  }
  const reason = given.reason.trim();
  if (!reason)
    return { ok: false, status: 400, message: "Say why: what you checked in Stripe.", given };
  const applied = given.ruling === "applied";
  const outcome = await resolveAdmission(ctx.store, {
    id,
    applied,
    reason,
    by: actor(signedIn),
    now: ctx.now(),
  });
  if (!outcome.resolved) {
    return {
      ok: true,
      message:
        outcome.problem === "unknown"
          ? `No admission ${id}: nothing was recorded.`
          : `${id} is ${outcome.state ?? "resolved"} already, not unresolved: nothing was recorded.`,
    };
  }
  ctx.logger.info({ by: actor(signedIn), admission: id, applied }, "console resolved an admission");
  const a = outcome.admission;
  const what = `${a.tool}${amountOf(a) ? ` ${amountOf(a)}` : ""}`;
  return {
    ok: true,
    message: applied
      ? `Resolved ${id} as applied: ${what} stays counted as money moved.`
      : `Resolved ${id} as not applied: ${what} no longer counts against the caps.`,
  };
}
