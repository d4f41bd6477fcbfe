import type { AnyTool } from "../../tools/tool.js";
import { type CallCharge, describeCharge } from "../money/charge.js";
import { formatMoney } from "../money/currency.js";
import { type Denial, deny } from "../policy/decision.js";
import type { LoadedPolicy } from "../policy/load.js";
import { expectation, ruleHolds } from "../policy/params.js";

/**
 * Which calls need a person's yes (`require_approval_over`, `require_approval_for`). Pure:
 * the guard asks for the approval itself (see `approvals.ts`); `decide` alone, which knows
 * of no approval, refuses such calls with `approval_required`.
 */

export interface ApprovalNeed {
  /** The policy field that asks: `require_approval_over`, `require_approval_for[1]`. */
  rule: string;
  /** Why, in words: `amounts over $100.00 need a person's approval`. */
  why: string;
}

type Values = Readonly<Record<string, unknown>>;

export function approvalNeeded(
  policy: LoadedPolicy,
  tool: AnyTool,
  args: Values,
  attributes: Values,
  charge: CallCharge,
): ApprovalNeed | undefined {
  const { caps } = policy;
  if (charge.moves && caps.approvalOver !== null && charge.amountCap > caps.approvalOver) {
    return {
      rule: "require_approval_over",
      why: `amounts over ${formatMoney(caps.approvalOver, caps.currency)} need a person's approval`,
    };
  }
  const rules = policy.policy.require_approval_for;
  const index = rules.findIndex(
    (entry) =>
      entry.tool === tool.name &&
      Object.entries(entry.params ?? {}).every(([param, rule]) => {
        // A condition on a value the call does not state counts as met: ask rather than guess.
        const value = args[param] ?? attributes[param];
        return value === undefined || ruleHolds(rule, value);
      }),
  );
  const entry = rules[index];
  if (!entry) return undefined;
  const conditions = Object.entries(entry.params ?? {}).map(
    ([param, rule]) => `${param} ${expectation(rule)}`,
  );
  return {
    rule: `require_approval_for[${index}]`,
    why:
      conditions.length > 0
        ? `${tool.name} with ${conditions.join(" and ")} needs a person's approval`
        : `every ${tool.name} needs a person's approval`,
  };
}

/** `issue_refund of €50.00 (≈ $54.00)`, or just the tool when no money moves. */
export function describeCall(tool: string, charge: CallCharge): string {
  return charge.moves ? `${tool} of ${describeCharge(charge)}` : tool;
}

// ---------------------------------------------------------------------------------------
// The refusals, as the agent reads them

/** The call that needs a yes, as the refusals name it. */
export interface AskingCall {
  tool: string;
  charge: CallCharge;
  need: ApprovalNeed;
}

/** The request a refusal is about. */
export interface RequestFacts {
  id: string;
  expires_at: number;
  decided_by: string | null;
  decision_reason: string | null;
}

/** No approval can be had at all (`decide`, which knows of none). */
export function approvalRequired({ tool, charge, need }: AskingCall): Denial {
  return deny(
    "approval_required",
    need.rule,
    `${describeCall(tool, charge)} refused: ${need.why}. Nothing was changed.`,
  );
}

/** Out-of-band: a request waits for the operator; the agent retries once it is approved. */
export function approvalPending(
  { tool, charge, need }: AskingCall,
  request: RequestFacts,
  created: boolean,
): Denial {
  return deny(
    "approval_required",
    need.rule,
    `${describeCall(tool, charge)} needs a person's approval (${need.why}). Approval request ${request.id} ${created ? "is waiting" : "is still waiting"} for the operator; nothing was changed. Tell the user, and once it is approved retry this exact call (same arguments) in this session; the request lapses at ${iso(request.expires_at)}.`,
  );
}

/** Only the client's user may say yes (`approval_via: client`), and the client cannot be asked. */
export function approvalUnavailable({ tool, charge, need }: AskingCall): Denial {
  return deny(
    "approval_required",
    need.rule,
    `${describeCall(tool, charge)} needs a person's approval (${need.why}), and this policy takes it only from the MCP client's user (approval_via: client), whom this client cannot ask (it does not support elicitation). Nothing was changed.`,
  );
}

export const unavailableHint =
  "Tell the user. The operator can let such calls be decided out of band, with `spendguard approve`, by setting approval_via: operator (or either) in the policy.";

/** What the agent can tell the user: how the operator decides. */
export function pendingHint(request: RequestFacts): string {
  return `The operator approves with \`spendguard approve ${request.id}\` or rejects with \`spendguard reject ${request.id}\` (or the operator tools approve / reject).`;
}

/** A person said no; the same call keeps being refused while the no holds. */
export function approvalDeclined(
  { tool, charge, need }: AskingCall,
  request: RequestFacts,
): Denial {
  const why = request.decision_reason ? `: ${request.decision_reason}` : "";
  return deny(
    "approval_declined",
    need.rule,
    `${describeCall(tool, charge)} refused: a person declined it (approval ${request.id}, ${request.decided_by ?? "unknown"}${why}). Nothing was changed; do not retry this call — the same call is refused until ${iso(request.expires_at)}.`,
  );
}

/** Nobody answered in the MCP client in time. */
export function approvalTimedOut(
  { tool, charge, need }: AskingCall,
  request: RequestFacts,
  waited: string,
): Denial {
  return deny(
    "approval_timeout",
    need.rule,
    `${describeCall(tool, charge)} refused: nobody answered approval request ${request.id} within ${waited} (${need.why}). Nothing was changed; ask the user whether to try again.`,
  );
}

/** Two identical calls raced for one approval; it covers only one of them. */
export function approvalUsedUp({ tool, charge, need }: AskingCall, request: RequestFacts): Denial {
  return deny(
    "approval_required",
    need.rule,
    `${describeCall(tool, charge)} needs a new approval: approval ${request.id} covered one call, and an identical call used it a moment ago. Nothing was changed; retry to ask again.`,
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
