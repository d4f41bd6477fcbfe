import type { AuditRecord } from "../audit/record.js";
import { formatMoney } from "../money/currency.js";
import type { Admission, SessionRecord } from "../store/store.js";
import type { AlertType } from "./config.js";

/**
 * What can send an alert, derived from what spendguard records anyway — audit rows,
 * session kills, admissions — so that a row written by any process on the store (a CLI
 * kill, another host's refusal) is seen by whichever process evaluates the rules.
 */

/** What a payload says about an event: ids, amounts, codes and reasons, nothing else. */
export type EventDetails = Record<string, string | number | null>;

export interface AlertEvent {
  type: AlertType | "test";
  /** Names the event for every process that sees it: `audit:<row hash>`, `kill:ses_…`. */
  key: string;
  /** When it happened (ms since the epoch). */
  at: number;
  agent: string | null;
  tool: string | null;
  /** One line for people. */
  summary: string;
  details: EventDetails;
}

/** Codes of refusals by a cap or a call-count limit. */
const CAP_CODES = new Set(["cap_per_call", "cap_session", "cap_day", "cap_customer_day"]);

/** Rows that record a decision about another call rather than a call. */
const NOT_CALLS = new Set(["reconcile", "approval"]);

/** The event an audit row is, if any (velocity is counted separately). */
export function auditEvent(row: AuditRecord): AlertEvent | undefined {
  if (row.decision === "deny" && row.code !== null && isCapRefusal(row)) {
    return fromRow(
      row,
      "cap_denied",
      `${row.agent}: ${callText(row)} refused by ${row.rule ?? "a cap"} (${row.code})`,
    );
  }
  if (row.decision === "deny" && row.code === "approval_required") {
    const approval = /\bapr_[0-9a-f]{24}\b/.exec(row.reason ?? "")?.[0] ?? null;
    return fromRow(
      row,
      "approval_requested",
      `${row.agent}: ${callText(row)} waits for a person's approval${approval ? ` (${approval})` : ""}`,
      { approval },
    );
  }
  if (row.outcome === "unknown") {
    return fromRow(
      row,
      "unknown_outcome",
      `${row.agent}: ${callText(row)} has an unknown outcome (${row.code ?? "unknown"}); it keeps counting against the caps until it is confirmed`,
    );
  }
  return undefined;
}

/** Whether a row is a money-moving call the policy let through (what velocity counts). */
export function isMoneyMovingCall(row: AuditRecord): boolean {
  return (
    row.decision === "allow" &&
    (row.amount_cap ?? 0) > 0 &&
    !NOT_CALLS.has(row.rule ?? "") &&
    row.outcome !== "replayed"
  );
}

function isCapRefusal(row: AuditRecord): boolean {
  if (CAP_CODES.has(row.code ?? "")) return true;
  // Call-count limits share rate_limited with nothing else the guard decides.
  return row.code === "rate_limited" && row.rule !== null;
}

function fromRow(
  row: AuditRecord,
  type: AlertType,
  summary: string,
  extra: EventDetails = {},
): AlertEvent {
  return {
    type,
    // The row's hash, not its seq: unique across stores too, so receivers can dedupe by id.
    key: `audit:${row.hash}`,
    at: Date.parse(row.at),
    agent: row.agent,
    tool: row.tool,
    summary,
    details: {
      audit_seq: row.seq,
      session: row.session,
      tool: row.tool,
      code: row.code,
      rule: row.rule,
      reason: row.reason,
      amount: row.amount,
      currency: row.currency,
      amount_cap: row.amount_cap,
      cap_currency: row.cap_currency,
      customer: row.customer,
      stripe_request_id: row.stripe_request_id,
      ...extra,
    },
  };
}

/** `issue_refund of $25.00` (or just the tool when no money is named). */
function callText(row: Pick<AuditRecord, "tool" | "amount" | "currency">): string {
  return row.amount !== null && row.currency !== null
    ? `${row.tool} of ${formatMoney(row.amount, row.currency)}`
    : row.tool;
}

/**
 * Kills found in the sessions table, whichever path made them (CLI, operator tools,
 * kill_all, a flag file once a call noticed it), one event per agent, killer and reason.
 * Sessions a pause killed are left out: the velocity alert reports those.
 */
export function killEvents(sessions: readonly SessionRecord[], pausedBy: string): AlertEvent[] {
  const groups = new Map<string, SessionRecord[]>();
  for (const session of sessions) {
    if (session.killed_by === pausedBy) continue;
    const group = `${session.agent}\u0000${session.killed_by}\u0000${session.kill_reason}`;
    groups.set(group, [...(groups.get(group) ?? []), session]);
  }
  return [...groups.values()].flatMap((killed) => {
    const first = killed[0];
    if (!first) return [];
    const ids = killed.map((s) => s.id);
    const by = first.killed_by ?? "unknown";
    return [
      {
        type: "kill" as const,
        key: `kill:${first.id}`,
        at: first.state_changed_at ?? first.started_at,
        agent: first.agent,
        tool: null,
        summary: `${first.agent}: ${ids.length === 1 ? `session ${first.id} was` : `${ids.length} sessions were`} killed by ${by}${first.kill_reason ? ` (${first.kill_reason})` : ""}`,
        details: {
          sessions: ids.join(" "),
          killed_by: by,
          reason: first.kill_reason,
        },
      },
    ];
  });
}

/** An admission still `unknown` long after it was made: someone has to resolve it. */
export function unresolvedEvent(admission: Admission, capCurrency: string | null): AlertEvent {
  const money =
    admission.currency !== null ? ` of ${formatMoney(admission.amount, admission.currency)}` : "";
  return {
    type: "unknown_outcome",
    key: `unresolved:${admission.id}:${admission.created_at}:${admission.session}`,
    at: admission.created_at,
    agent: admission.agent,
    tool: admission.tool,
    summary: `${admission.agent}: ${admission.tool}${money} (${admission.id}) has had an unknown outcome since ${new Date(admission.created_at).toISOString()}: it keeps counting against the caps; check it in Stripe (metadata spendguard_admission)`,
    details: {
      admission: admission.id,
      session: admission.session,
      tool: admission.tool,
      amount: admission.amount,
      currency: admission.currency,
      amount_cap: admission.amount_cap,
      cap_currency: capCurrency,
      customer: admission.customer,
      idempotency_key: admission.idempotency_key,
    },
  };
}

/** The store failed a call in a way that means it cannot be reached. */
export function storeEvent(at: number, operation: string, code: string): AlertEvent {
  return {
    type: "store_unavailable",
    key: `store:${Math.floor(at / 60_000)}`,
    at,
    agent: null,
    tool: null,
    summary: `the store cannot be reached (${code} in ${operation}): money-moving calls are refused until it is back`,
    details: { operation, code },
  };
}

/** `spendguard alerts test`. */
export function testEvent(at: number, sink: string): AlertEvent {
  return {
    type: "test",
    key: `test:${at}:${sink}`,
    at,
    agent: null,
    tool: null,
    summary: `test message from spendguard alerts test: sink ${sink} is reachable`,
    details: { sink },
  };
}
