import { cleanReason } from "../audit/text.js";
import { formatWithCap } from "../money/currency.js";
import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalState,
  AuditEntry,
  Store,
} from "../store/store.js";
import { decisionPath } from "./via.js";

/**
 * A person's decision on an approval request, whoever takes it: the user answering in
 * their MCP client (`elicitation`), the operator at a terminal (`cli`) or through the
 * operator tools. Each decision is one audit row (rule `approval`), written in the same
 * transaction as the decision.
 */

/** The state as of `now`: a pending or granted request past its expiry is `expired`. */
export function approvalStatus(approval: ApprovalRecord, now: number): ApprovalState {
  const open = approval.state === "pending" || approval.state === "approved";
  return open && approval.expires_at <= now ? "expired" : approval.state;
}

/** An approval as operators see it (CLI `--json`, operator tools): times in ISO. */
export interface ApprovalView {
  id: string;
  /** As of now: a pending or granted request past its expiry reads `expired`. */
  state: ApprovalState;
  session: string;
  agent: string;
  tool: string;
  customer: string | null;
  /** Minor units of `currency`; `null` when the call moves no money. */
  amount: number | null;
  currency: string | null;
  amount_cap: number | null;
  cap_currency: string;
  rule: string;
  /** Who may say yes: the MCP client's user (`client`), the `operator`, or `either`. */
  approval_via: ApprovalRecord["approval_via"];
  args: unknown;
  summary: string;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  decision_reason: string | null;
  used_at: string | null;
  admission: string | null;
}

export function approvalView(approval: ApprovalRecord, now: number): ApprovalView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: approval.id,
    state: approvalStatus(approval, now),
    session: approval.session,
    agent: approval.agent,
    tool: approval.tool,
    customer: approval.customer,
    amount: approval.amount,
    currency: approval.currency,
    amount_cap: approval.amount_cap,
    cap_currency: approval.cap_currency,
    rule: approval.rule,
    approval_via: approval.approval_via,
    args: JSON.parse(approval.args) as unknown,
    summary: approval.summary,
    created_at: new Date(approval.created_at).toISOString(),
    expires_at: new Date(approval.expires_at).toISOString(),
    decided_at: iso(approval.decided_at),
    decided_by: approval.decided_by,
    decision_reason: approval.decision_reason,
    used_at: iso(approval.used_at),
    admission: approval.admission,
  };
}

export interface ApprovalQuery {
  /** Only requests waiting for a decision now: pending, not past their expiry, session active. */
  pending?: boolean | undefined;
  session?: string | undefined;
  agent?: string | undefined;
  /** The most recent `limit`; all when absent. */
  limit?: number | undefined;
}

/** Approval requests as operators list them (CLI `approvals`, `list_pending_approvals`), newest first. */
export async function approvalViews(
  store: Store,
  query: ApprovalQuery,
  now: number,
): Promise<ApprovalView[]> {
  const approvals = await store.listApprovals({
    ...(query.pending ? { states: ["pending"], openAt: now, liveSession: true } : {}),
    ...(query.session ? { session: query.session } : {}),
    ...(query.agent ? { agent: query.agent } : {}),
    ...(query.limit !== undefined ? { limit: query.limit } : {}),
  });
  return approvals.map((approval) => approvalView(approval, now));
}

/** `$50.00`, or `¥5,000 (≈ $33.00)` when the call's currency is not the cap currency. */
export function approvalAmount(view: ApprovalView): string {
  return formatWithCap(view.amount, view.currency, view.amount_cap, view.cap_currency);
}

/** `issue_refund of $40.00 for cus_123`: the call an approval is about, in one line. */
export function approvalCall(view: ApprovalView): string {
  const amount = approvalAmount(view);
  return `${view.tool}${amount ? ` of ${amount}` : ""}${view.customer ? ` for ${view.customer}` : ""}`;
}

const AUDIT_CODES = {
  approved: null,
  rejected: "approval_declined",
  expired: "approval_timeout",
} as const;

/**
 * The decision's audit row: about the call that asked, with who decided, by which path
 * (`via client` is the MCP client's user, `via operator` the out-of-band queue), and why.
 */
export function decisionAuditEntry(
  approval: ApprovalRecord,
  decision: ApprovalDecision,
): AuditEntry {
  const verb = decision.to === "expired" ? "expired unanswered" : decision.to;
  return {
    at: new Date(decision.at).toISOString(),
    session: approval.session,
    agent: approval.agent,
    tool: approval.tool,
    args: approval.args,
    decision: decision.to === "approved" ? "allow" : "deny",
    code: AUDIT_CODES[decision.to],
    rule: "approval",
    reason: `${approval.id} ${verb} via ${decisionPath(decision.by)} (${decision.by})${decision.reason ? `: ${decision.reason}` : ""}`,
    stripe_request_id: null,
    idempotency_key: null,
    amount: approval.amount,
    currency: approval.currency,
    amount_cap: approval.amount_cap,
    cap_currency: approval.amount !== null ? approval.cap_currency : null,
    revenue_at_risk_cap: null,
    customer: approval.customer,
    outcome: decision.to,
    duration_ms: 0,
  };
}

export interface PersonDecision {
  approve: boolean;
  /** `cli`, `elicitation`, or the operator tools' `operator:<name>`. */
  by: string;
  reason?: string | undefined;
  now?: number;
}

/** Why a decision could not be taken; the CLI exits 1 with the message, the operator tools refuse. */
export type DecisionProblem = "unknown" | "decided" | "expired" | "session_closed" | "client_only";

export type DecideOutcome =
  | { ok: true; approval: ApprovalRecord }
  | { ok: false; problem: DecisionProblem; message: string };

/**
 * Approves or rejects a pending request, out of band (CLI, operator tools). A yes for a
 * session that can no longer call (ended, killed, expired) is refused: nothing could ever
 * use it, and saying "approved" would mislead the person who gave it. A yes to a request
 * only the MCP client's user may grant (`approval_via: client`) is refused too; a no is
 * always the operator's to say.
 */
export async function decideApproval(
  store: Store,
  id: string,
  decision: PersonDecision,
): Promise<DecideOutcome> {
  const now = decision.now ?? Date.now();
  const current = await store.getApproval(id);
  if (!current) {
    return {
      ok: false,
      problem: "unknown",
      message: `no approval request '${id}' in this data directory; \`spendguard approvals\` (or the operator tool list_pending_approvals) lists them.`,
    };
  }
  if (decision.approve && current.approval_via === "client") {
    return {
      ok: false,
      problem: "client_only",
      message: `approval ${id} is for the MCP client's user to decide (the policy says approval_via: client); an operator can reject it, not approve it.`,
    };
  }
  if (decision.approve) {
    const state = await sessionStateAt(store, current.session, now);
    if (state !== "active" && approvalStatus(current, now) === "pending") {
      return {
        ok: false,
        problem: "session_closed",
        message: `approval ${id} belongs to session ${current.session}, which is ${state}: only that session could use it. The agent has to ask again from a new session.`,
      };
    }
  }
  const change: ApprovalDecision = {
    id,
    to: decision.approve ? "approved" : "rejected",
    at: now,
    by: decision.by,
    reason: decision.reason ? cleanReason(decision.reason) || null : null,
  };
  const result = await store.decideApproval(change, (approval) =>
    decisionAuditEntry(approval, change),
  );
  if (result.applied) return { ok: true, approval: result.approval };
  const approval = result.approval ?? current;
  const status = approvalStatus(approval, now);
  if (status === "expired" && approval.decided_at === null) {
    return {
      ok: false,
      problem: "expired",
      message: `approval ${id} expired at ${new Date(approval.expires_at).toISOString()} without a decision; the agent has to ask again (by retrying the call).`,
    };
  }
  return {
    ok: false,
    problem: "decided",
    message: `approval ${id} is already ${status}${approval.decided_by ? ` (decided by ${approval.decided_by})` : ""}: nothing to decide.`,
  };
}

/** A session past its expiry is expired even before its next call says so. */
async function sessionStateAt(store: Store, id: string, now: number): Promise<string> {
  const session = await store.getSession(id);
  if (!session) return "gone";
  const lapsed = session.expires_at !== null && now >= session.expires_at;
  return session.state === "active" && lapsed ? "expired" : session.state;
}
