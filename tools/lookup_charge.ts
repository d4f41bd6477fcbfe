import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { chargeView, viewCharge } from "./views.js";

export const lookupCharge = defineTool({
  name: "lookup_charge",
  title: "Look up a charge",
  description:
    "Shows one Stripe charge: amount, how much is already refunded and how much can still be refunded, status, dispute flag and the customer it belongs to. Amounts are integers in the currency's smallest unit (cents for usd, whole yen for jpy) with a display string. Refused if the charge's customer is outside the customers this session may serve.",
  input: z.object({ charge: ids.charge }).strict(),
  output: chargeView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { charges: "read", customers: "read" },
  ruleParams: ["charge"],
  async resolve(ctx, args) {
    const charge = await ctx.stripe.charges.retrieve(
      args.charge,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return { customer: await customerFacts(ctx, charge.customer), data: charge };
  },
  async handle(_ctx, _args, resolved) {
    const output = viewCharge(resolved.data);
    return {
      output,
      text: `Charge ${output.id}: ${output.amount.display}, ${output.status}; ${output.amount_refunded.display} refunded, ${output.refundable.display} still refundable${output.disputed ? "; disputed" : ""}.`,
    };
  },
});
