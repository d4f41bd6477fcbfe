import { z } from "zod";
import {
  type ApprovalView,
  approvalView,
  type DecisionProblem,
  decideApproval,
} from "../approvals/decisions.js";
import { type OperatorContext, OperatorError, type OperatorErrorCode } from "./tool.js";

/**
 * What the operator tools `approve` and `reject` share: the id they take, the approval
 * they report, and the decision itself, taken by the same `decideApproval` as the CLI's
 * `spendguard approve|reject` so both paths refuse and audit alike. The decider is the
 * operator session's `operator:<name>`.
 */

export const approvalId = z
  .string()
  .regex(/^apr_[0-9a-f]{24}$/, "an approval id: apr_ and 24 hex digits")
  .describe("The request, as list_pending_approvals shows it (also in the agent's refusal).");

export const approvalOutput = z.object({
  approval_id: z.string(),
  state: z
    .enum(["pending", "approved", "used", "rejected", "expired"])
    .describe("As of now: approved means usable by one identical call until expires_at."),
  session_id: z.string(),
  agent: z.string(),
  tool: z.string(),
  customer: z.string().nullable(),
  amount: z
    .number()
    .int()
    .nullable()
    .describe("In the smallest unit of currency; null when the call moves no money."),
  currency: z.string().nullable(),
  amount_cap: z.number().int().nullable().describe("The amount in the cap currency."),
  cap_currency: z.string(),
  rule: z.string().describe("The policy field that asked for approval."),
  approval_via: z
    .enum(["operator", "client", "either"])
    .describe(
      "Who may say yes: client means only the agent's MCP client user (an operator can only reject), operator or either lets you approve.",
    ),
  args: z.unknown().describe("The call's arguments (secrets redacted)."),
  summary: z.string().describe("What the person deciding should read."),
  created_at: z.string(),
  expires_at: z.string(),
  decided_at: z.string().nullable(),
  decided_by: z.string().nullable(),
  decision_reason: z.string().nullable(),
});

export function approvalOutputOf(view: ApprovalView): z.output<typeof approvalOutput> {
  const { id, session, used_at: _used, admission: _admission, ...rest } = view;
  return { approval_id: id, session_id: session, ...rest };
}

const CODES: Record<DecisionProblem, OperatorErrorCode> = {
  unknown: "unknown_approval",
  decided: "approval_decided",
  expired: "approval_expired",
  session_closed: "session_not_active",
  client_only: "approval_client_only",
};

/** Approves or rejects a pending request as this operator; refuses with a stable code. */
export async function decideAsOperator(
  ctx: OperatorContext,
  id: string,
  approve: boolean,
  reason: string | undefined,
): Promise<ApprovalView> {
  const outcome = await decideApproval(ctx.store, id, {
    approve,
    by: ctx.operator,
    reason,
    now: ctx.now,
  });
  if (!outcome.ok) throw new OperatorError(CODES[outcome.problem], outcome.message);
  return approvalView(outcome.approval, ctx.now);
}
