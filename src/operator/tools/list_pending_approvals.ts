import { z } from "zod";
import { approvalViews } from "../../approvals/decisions.js";
import { approvalOutput, approvalOutputOf } from "../approvals.js";
import { defineOperatorTool, READ_ONLY } from "../tool.js";

export const listPendingApprovals = defineOperatorTool({
  name: "list_pending_approvals",
  title: "List pending approval requests",
  description:
    "Lists agents' calls waiting for a person's yes (policy require_approval_over / require_approval_for), newest first: approval id, agent, session, tool, customer, amount (integer in the currency's smallest unit, and in the cap currency), the arguments, and a summary written for the person deciding. Decide one with `approve` or `reject`; the agent then retries the same call. Requests nobody decides expire (approval_ttl). Changes nothing.",
  input: z
    .object({
      session_id: z.string().min(1).max(64).optional().describe("Only this session's requests."),
      agent: z.string().min(1).max(64).optional().describe("Only this agent's requests."),
      limit: z.number().int().min(1).max(500).default(100).describe("At most this many."),
    })
    .strict(),
  output: z.object({ count: z.number().int(), approvals: z.array(approvalOutput) }),
  annotations: READ_ONLY,
  async handle(ctx, args) {
    const views = await approvalViews(
      ctx.store,
      { pending: true, session: args.session_id, agent: args.agent, limit: args.limit },
      ctx.now,
    );
    const blocks = views.map((v) => `${v.id} (waiting until ${v.expires_at})\n${v.summary}`);
    return {
      output: { count: views.length, approvals: views.map(approvalOutputOf) },
      text:
        views.length === 0
          ? "No pending approval requests."
          : `${views.length} pending approval request(s):\n\n${blocks.join("\n\n")}`,
    };
  },
});
