import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { refundView, viewRefund } from "./views.js";

export const lookupRefund = defineTool({
  name: "lookup_refund",
  title: "Look up a refund",
  description:
    "Shows one Stripe refund: amount, status (pending, succeeded, failed, canceled), reason and the charge it refunds. Amounts are integers in the currency's smallest unit with a display string. Refused if the refunded charge's customer is outside this session's scope.",
  input: z.object({ refund: ids.refund }).strict(),
  output: refundView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { refunds: "read", charges: "read", customers: "read" },
  ruleParams: ["refund"],
  async resolve(ctx, args) {
    const refund = await ctx.stripe.refunds.retrieve(
      args.refund,
      { expand: ["charge"] },
      ctx.requestOptions,
    );
    const charge = refund.charge as Stripe.Charge | string | null;
    const customer =
      charge && typeof charge !== "string" ? await customerFacts(ctx, charge.customer) : null;
    return { customer, data: refund };
  },
  async handle(_ctx, _args, resolved) {
    const output = viewRefund(resolved.data);
    return {
      output,
      text: `Refund ${output.id}: ${output.amount.display}, ${output.status ?? "unknown status"}, of charge ${output.charge ?? "(none)"}.`,
    };
  },
});
