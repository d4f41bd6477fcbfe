import { createHash, randomBytes } from "node:crypto";
import type { AnyStripeTool, CustomerFacts } from "../../tools/tool.js";
import { canonicalJson } from "../audit/canonical.js";
import { redactValue } from "../audit/redact.js";
import type { CallCharge } from "../money/charge.js";
import type { Decision, Denial } from "../policy/decision.js";
import type { LoadedPolicy } from "../policy/load.js";
import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalUse,
  Store,
  UsageSnapshot,
} from "../store/store.js";
import { decisionAuditEntry } from "./decisions.js";
import {
  type ApprovalNeed,
  type AskingCall,
  approvalDeclined,
  approvalPending,
  approvalTimedOut,
  approvalUnavailable,
  approvalUsedUp,
  pendingHint,
  unavailableHint,
} from "./rules.js";
import { approvalSummary } from "./summary.js";
import type { ApprovalPaths } from "./via.js";

/**
 * Getting a person's yes for a call the policy says needs one. An approval is bound to the
 * call — session, tool, account, arguments, and the customer and money Stripe resolved
 * them to — so a yes covers that call and no other (another amount, another customer). It
 * is used up by the admission that lets the call through, once; a call the caps refuse
 * does not use it, so it stays good for a retry until it lapses (`approval_ttl`).
 *
 * In-band, the guard asks the user through their MCP client (elicitation) and waits up to
 * `approval_timeout`. Out-of-band, the call is refused with `approval_required` and the
 * request's id; an operator decides (`spendguard approve|reject`, operator tools) and the
 * agent retries the same call. Which of the two may say yes is the session's
 * `ApprovalPaths` (policy `approval_via`, by default decided by the transport).
 */

/**
 * `deferred`: the question went back to the client with the call's answer (2026-07-28
 * `input_required`) and comes back with the retry; the request stays pending meanwhile.
 */
export type HumanAnswer = "accept" | "decline" | "timeout" | "unavailable" | "deferred";

export interface HumanQuestion {
  /** The approval request (`apr_…`) the question is about. */
  approvalId: string;
  message: string;
  timeoutMs: number;
}

/** Asks the person behind the MCP client; given only when the client can be asked. */
export type AskHuman = (question: HumanQuestion) => Promise<HumanAnswer>;

export interface ApprovalCall {
  /** When the call was made, on the guard's clock. */
  now: number;
  account: string | null;
  args: Record<string, unknown>;
  tool: AnyStripeTool;
  charge: CallCharge;
  customer: CustomerFacts | null;
  need: ApprovalNeed;
  /** The arguments as the audit keeps them (redacted, canonical). */
  auditArgs: string;
  /** The guard's cap check, so nobody is asked about a call the caps would refuse anyway. */
  checkCaps(usage: UsageSnapshot): Decision;
}

export type GateResult = { granted: ApprovalRecord } | { refused: Denial; hint?: string };

export interface ApprovalGateOptions {
  store: Store;
  policy: LoadedPolicy;
  session: string;
  agent: string;
  clock: () => number;
  /** Who may say yes in this session. */
  paths: ApprovalPaths;
}

const ANSWER_REASONS = {
  accept: "the user approved it in the MCP client",
  decline: "the user declined it in the MCP client",
  timeout: "no answer in the MCP client",
} as const;

export class ApprovalGate {
  constructor(private readonly options: ApprovalGateOptions) {}

  /**
   * The call's approval if it has one; else it asks the client's user (in-band) when they
   * may say yes and can be asked, or files a request for the operator when they may.
   */
  async obtain(call: ApprovalCall, askHuman?: AskHuman): Promise<GateResult> {
    const { store, policy, session, agent, paths } = this.options;
    const { charge, customer } = call;
    const usage = await store.usage({
      session,
      agent,
      tool: call.tool.name,
      customer: customer?.id ?? null,
      at: call.now,
    });
    // Nobody is asked about a call the caps would refuse anyway.
    const caps = call.checkCaps(usage);
    if (caps.outcome === "deny") return { refused: caps };
    const ask = paths.client ? askHuman : undefined;
    // Only the client's user may say yes, and this client cannot be asked: nobody could
    // decide a request, so none is filed.
    if (!ask && !paths.operator) return unavailable(call);

    const id = `apr_${randomBytes(12).toString("hex")}`;
    const { approval, created } = await store.findOrRequestApproval({
      id,
      binding: approvalBinding(session, call),
      session,
      agent,
      tool: call.tool.name,
      args: call.auditArgs,
      account: call.account,
      customer: customer?.id ?? null,
      amount: charge.moves?.amount ?? null,
      currency: charge.moves?.currency ?? null,
      amount_cap: charge.moves ? charge.amountCap : null,
      cap_currency: policy.caps.currency,
      rule: call.need.rule,
      summary: approvalSummary({
        id,
        agent,
        session,
        tool: call.tool,
        args: redactValue(call.args) as Record<string, unknown>,
        account: call.account,
        customer,
        charge,
        need: call.need,
        usage,
        policy,
      }),
      ttl_ms: policy.approvalTtlMs,
      approval_via: paths.via,
      created_at: call.now,
      expires_at: call.now + policy.approvalTtlMs,
    });
    if (approval.state === "approved") return { granted: approval };
    if (approval.state === "rejected") return { refused: approvalDeclined(asking(call), approval) };
    if (ask) return this.ask(call, approval, created, ask);
    return waiting(call, approval, created);
  }

  /** For the admission: uses the approval up, or refuses if an identical call just did. */
  use(call: ApprovalCall, approval: ApprovalRecord): ApprovalUse<Denial> {
    return { id: approval.id, unusable: () => approvalUsedUp(asking(call), approval) };
  }

  private async ask(
    call: ApprovalCall,
    approval: ApprovalRecord,
    created: boolean,
    askHuman: AskHuman,
  ): Promise<GateResult> {
    const { store, policy, clock, paths } = this.options;
    const answer = await askHuman({
      approvalId: approval.id,
      message: approval.summary,
      timeoutMs: policy.approvalTimeoutMs,
    });
    if (answer === "deferred") return waiting(call, approval, created);
    // A client that claims elicitation but cannot do it: the operator decides, if they may.
    if (answer === "unavailable") {
      if (paths.operator) return waiting(call, approval, true);
      const closed: ApprovalDecision = {
        id: approval.id,
        to: "expired",
        at: clock(),
        by: "elicitation",
        reason: "the MCP client could not show the question",
      };
      await store.decideApproval(closed, (row) => decisionAuditEntry(row, closed));
      return unavailable(call);
    }
    const decision: ApprovalDecision = {
      id: approval.id,
      to: answer === "accept" ? "approved" : answer === "decline" ? "rejected" : "expired",
      at: clock(),
      by: "elicitation",
      reason:
        answer === "timeout"
          ? `${ANSWER_REASONS.timeout} within ${policy.policy.approval_timeout}`
          : ANSWER_REASONS[answer],
    };
    const result = await store.decideApproval(decision, (row) => decisionAuditEntry(row, decision));
    // An operator may have decided while the question was open: the first decision stands.
    const decided = result.approval ?? approval;
    if (decided.state === "approved") return { granted: decided };
    if (decided.state === "rejected") return { refused: approvalDeclined(asking(call), decided) };
    return {
      refused: approvalTimedOut(asking(call), approval, policy.policy.approval_timeout),
    };
  }
}

function asking(call: ApprovalCall): AskingCall {
  return { tool: call.tool.name, charge: call.charge, need: call.need };
}

/** Nobody may be asked: only the client's user may say yes, and they cannot be asked. */
function unavailable(call: ApprovalCall): GateResult {
  return { refused: approvalUnavailable(asking(call)), hint: unavailableHint };
}

/** Out-of-band: the request stays pending for the operator. */
function waiting(call: ApprovalCall, approval: ApprovalRecord, created: boolean): GateResult {
  return { refused: approvalPending(asking(call), approval, created), hint: pendingHint(approval) };
}

/** What an approval is bound to, hashed: the same call resolved to the same customer and money. */
function approvalBinding(session: string, call: ApprovalCall): string {
  const { charge, customer } = call;
  return createHash("sha256")
    .update(
      canonicalJson({
        account: call.account,
        args: call.args,
        customer: customer?.id ?? null,
        moves: charge.moves,
        session,
        tool: call.tool.name,
      }),
    )
    .digest("hex");
}
