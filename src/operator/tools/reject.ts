import { z } from "zod";
import { approvalCall } from "../../approvals/decisions.js";
import { approvalId, approvalOutput, approvalOutputOf, decideAsOperator } from "../approvals.js";
import { DECIDES_APPROVAL, defineOperatorTool } from "../tool.js";

export const reject = defineOperatorTool({
  name: "reject",
  title: "Reject a pending request",
  description:
    "Rejects one pending approval request: the agent's calls with exactly the same arguments are refused (approval_declined, with your reason) until the request lapses (approval_ttl). Refused when the request is unknown, already decided or expired. Recorded in the audit under your operator name.",
  input: z
    .object({
      approval_id: approvalId,
      reason: z
        .string()
        .trim()
        .min(1, "say why")
        .max(500)
        .describe("Why: shown to the agent when it retries, kept in the audit."),
    })
    .strict(),
  output: z.object({ approval: approvalOutput }),
  annotations: DECIDES_APPROVAL,
  async handle(ctx, args) {
    const view = await decideAsOperator(ctx, args.approval_id, false, args.reason);
    return {
      output: { approval: approvalOutputOf(view) },
      text: `Rejected ${view.id}: ${approvalCall(view)} (session ${view.session}). The agent's identical calls are refused (approval_declined) until ${view.expires_at}.`,
    };
  },
});
