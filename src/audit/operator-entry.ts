import { auditArgs } from "./args.js";
import type { AuditDecision, AuditEntry, AuditOutcome } from "./record.js";
import { redactSecrets } from "./redact.js";
import { clip } from "./text.js";

/** Longest reason an operator row keeps. */
const MAX_OPERATOR_REASON = 2_000;

/** What an operator action (a tool call, a CLI command, an automatic pause) was. */
export interface OperatorAction {
  at: number;
  /** `ops_…`: the operator session, CLI invocation or alerts process that acted. */
  session: string;
  /** `operator:<name>`: who acted. */
  operator: string;
  tool: string;
  args: unknown;
  decision: AuditDecision;
  outcome: AuditOutcome;
  code: string | null;
  reason: string;
  durationMs: number;
}

/** The audit row of an operator action: no Stripe, no money, rule `operator`. */
export function operatorEntry(action: OperatorAction): AuditEntry {
  return {
    at: new Date(action.at).toISOString(),
    session: action.session,
    agent: action.operator,
    tool: action.tool,
    args: auditArgs(action.args),
    decision: action.decision,
    code: action.code,
    rule: "operator",
    reason: clip(redactSecrets(action.reason), MAX_OPERATOR_REASON, ""),
    stripe_request_id: null,
    idempotency_key: null,
    amount: null,
    currency: null,
    amount_cap: null,
    cap_currency: null,
    revenue_at_risk_cap: null,
    customer: null,
    outcome: action.outcome,
    duration_ms: Math.round(action.durationMs * 1000) / 1000,
  };
}
