import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids, listLimit } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { chargeView, viewCharge } from "./views.js";

export const listCharges = defineTool({
  name: "list_charges",
  title: "List a customer's charges",
  description:
    "Lists one customer's charges, newest first, with amounts, refunded and still-refundable amounts and status. Amounts are integers in the currency's smallest unit with a display string. Pass `starting_after` (the last charge id you saw) for the next page. Refused for a customer outside this session's scope.",
  input: z
    .object({
      customer: ids.customer,
      limit: listLimit,
      starting_after: ids.charge.optional().describe("Show charges after this charge id (paging)."),
    })
    .strict(),
  output: z.object({ charges: z.array(chargeView), has_more: z.boolean() }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { charges: "read", customers: "read" },
  ruleParams: ["customer"],
  async resolve(ctx, args) {
    return { customer: await customerFacts(ctx, args.customer), data: undefined };
  },
  async handle(ctx, args) {
    const page = await ctx.stripe.charges.list(
      {
        customer: args.customer,
        limit: args.limit,
        ...(args.starting_after ? { starting_after: args.starting_after } : {}),
      },
      ctx.requestOptions,
    );
    const charges = page.data.map(viewCharge);
    return {
      output: { charges, has_more: page.has_more },
      text: `${charges.length} charge(s) for ${args.customer}${page.has_more ? "; more available" : ""}.`,
    };
  },
});
