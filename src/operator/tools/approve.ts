import { z } from "zod";
import { approvalCall } from "../../approvals/decisions.js";
import { approvalId, approvalOutput, approvalOutputOf, decideAsOperator } from "../approvals.js";
import { DECIDES_APPROVAL, defineOperatorTool } from "../tool.js";

export const approve = defineOperatorTool({
  name: "approve",
  title: "Approve a pending request",
  description:
    "Approves one pending approval request: the agent's next call with exactly the same arguments, in the same session, goes through once — every cap still applies — until the approval lapses (approval_ttl). It covers no other call (another amount, another customer, a second refund). Refused when the request is unknown, already decided, expired, or its session can no longer call. Recorded in the audit under your operator name.",
  input: z
    .object({
      approval_id: approvalId,
      note: z
        .string()
        .trim()
        .min(1)
        .max(500)
        .optional()
        .describe("Why, kept with the decision and in the audit."),
    })
    .strict(),
  output: z.object({ approval: approvalOutput }),
  annotations: DECIDES_APPROVAL,
  async handle(ctx, args) {
    const view = await decideAsOperator(ctx, args.approval_id, true, args.note);
    return {
      output: { approval: approvalOutputOf(view) },
      text: `Approved ${view.id}: ${approvalCall(view)} (session ${view.session}). The agent's next identical call goes through once (the caps still apply), until ${view.expires_at}.`,
    };
  },
});
