import { performance } from "node:perf_hooks";
import { auditArgs } from "../audit/args.js";
import { agentName } from "../audit/text.js";
import type { CallCharge } from "../money/charge.js";
import type {
  Admission,
  ApprovalRecord,
  AuditDecision,
  AuditEntry,
  AuditOutcome,
  Settlement,
} from "../store/store.js";

/** Who makes the calls, as audit rows name it. */
export interface CallIdentity {
  session: string;
  agent: string;
  capCurrency: string;
}

/** What one call has established so far, for its one audit row. */
export class CallTrail {
  readonly at: string;
  readonly started = performance.now();
  readonly args: string;
  customer: string | null = null;
  /** The call a write is (see `idempotencyKey`); what finds its repeats. */
  callKey: string | null = null;
  idempotencyKey: string | null = null;
  charge: CallCharge | null = null;
  stripeRequestId: string | null = null;
  /** Our own open admission, if one was made. */
  admission: Admission | null = null;
  /** The approval that lets this call through, if it needed one. */
  approval: ApprovalRecord | null = null;
  /** The tool's handler was started: a write may have reached Stripe. */
  sent = false;
  private settledAmount: Settlement | null = null;
  private done = false;

  /** The tool name as called; an unknown one is the agent's text: printable, redacted, short. */
  readonly tool: string;

  constructor(
    private readonly identity: CallIdentity,
    tool: string,
    rawArgs: unknown,
    readonly now: number,
  ) {
    this.tool = agentName(tool);
    this.at = new Date(now).toISOString();
    this.args = auditArgs(rawArgs);
  }

  settled(settlement: Settlement, stripeRequestId: string | undefined): void {
    this.settledAmount = settlement;
    if (stripeRequestId) this.stripeRequestId = stripeRequestId;
  }

  /** The call's audit row is written (and its admission, if any, resolved). */
  closed(): void {
    this.done = true;
  }

  get isClosed(): boolean {
    return this.done;
  }

  entry(
    decision: AuditDecision,
    outcome: AuditOutcome,
    code: string | null,
    rule: string | null,
    reason: string | null,
  ): AuditEntry {
    const { session, agent, capCurrency } = this.identity;
    const moves = this.charge?.moves ?? null;
    return {
      at: this.at,
      session,
      agent,
      tool: this.tool,
      args: this.args,
      decision,
      code,
      rule,
      reason,
      stripe_request_id: this.stripeRequestId,
      idempotency_key: this.idempotencyKey,
      amount: this.settledAmount?.amount ?? moves?.amount ?? null,
      currency: moves?.currency ?? null,
      amount_cap:
        this.settledAmount?.amount_cap ?? (moves ? (this.charge?.amountCap ?? null) : null),
      cap_currency: moves ? capCurrency : null,
      revenue_at_risk_cap: this.charge?.revenueAtRiskCap ?? null,
      customer: this.customer,
      outcome,
      duration_ms: Math.round((performance.now() - this.started) * 1000) / 1000,
    };
  }
}
