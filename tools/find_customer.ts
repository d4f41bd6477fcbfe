import { z } from "zod";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { customerView, viewCustomer } from "./views.js";

export const findCustomer = defineTool({
  name: "find_customer",
  title: "Find customers by email",
  description:
    "Finds Stripe customers by exact email address (case-insensitive as Stripe matches it). Only customers this session may serve are returned; others are left out without comment. Email, phone and address in the results are masked unless the policy reveals personal data.",
  input: z
    .object({
      email: z.string().trim().email().max(512).describe("The customer's email address."),
    })
    .strict(),
  output: z.object({ customers: z.array(customerView) }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "filtered",
  permissions: { customers: "read" },
  ruleParams: ["email"],
  async resolve() {
    return { customer: null, data: undefined };
  },
  async handle(ctx, args, _resolved, inScope) {
    const page = await ctx.stripe.customers.list(
      { email: args.email, limit: 10 },
      ctx.requestOptions,
    );
    const customers = page.data
      .filter((c) => inScope({ id: c.id, email: c.email, metadata: c.metadata }))
      .map((c) => viewCustomer(c, ctx.pii));
    return {
      output: { customers },
      text:
        customers.length === 0
          ? "No customer with that email that this session may serve."
          : `Found ${customers.map((c) => c.id).join(", ")}.`,
    };
  },
});
