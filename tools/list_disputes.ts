import type Stripe from "stripe";
import { z } from "zod";
import { customerFactsCache } from "./customer-facts.js";
import { listLimit } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { disputeView, viewDispute } from "./views.js";

export const listDisputes = defineTool({
  name: "list_disputes",
  title: "List disputes",
  description:
    "Lists recent Stripe disputes (chargebacks), newest first, with amount, status, reason, the disputed charge and the evidence deadline. Only disputes of customers this session may serve are returned; others are left out. `status` filters, e.g. needs_response.",
  input: z
    .object({
      status: z
        .enum([
          "warning_needs_response",
          "warning_under_review",
          "warning_closed",
          "needs_response",
          "under_review",
          "won",
          "lost",
        ])
        .optional()
        .describe("Only disputes in this status."),
      limit: listLimit,
    })
    .strict(),
  output: z.object({ disputes: z.array(disputeView), has_more: z.boolean() }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "filtered",
  permissions: { disputes: "read", charges: "read", customers: "read" },
  ruleParams: ["status"],
  async resolve() {
    return { customer: null, data: undefined };
  },
  async handle(ctx, args, _resolved, inScope) {
    const page = await ctx.stripe.disputes.list(
      { limit: args.limit, expand: ["data.charge"] },
      ctx.requestOptions,
    );
    const factsOf = customerFactsCache(ctx);
    const disputes = [];
    for (const dispute of page.data) {
      if (args.status && dispute.status !== args.status) continue;
      const charge = dispute.charge as Stripe.Charge | string;
      const customer = typeof charge === "string" ? null : await factsOf(charge.customer);
      if (inScope(customer)) disputes.push(viewDispute(dispute));
    }
    return {
      output: { disputes, has_more: page.has_more },
      text: `${disputes.length} dispute(s) this session may see.`,
    };
  },
});
