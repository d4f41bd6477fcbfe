import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS, SpendguardError } from "./tool.js";
import { customerView, viewCustomer } from "./views.js";

export const lookupCustomer = defineTool({
  name: "lookup_customer",
  title: "Look up a customer",
  description:
    "Shows one Stripe customer: name, email, phone, country and metadata. Email, phone and address are masked unless the operator's policy reveals personal data. Refused for a customer outside this session's scope.",
  input: z.object({ customer: ids.customer }).strict(),
  output: customerView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { customers: "read" },
  ruleParams: ["customer"],
  async resolve(ctx, args) {
    const customer = await ctx.stripe.customers.retrieve(args.customer, {}, ctx.requestOptions);
    // A deleted customer is said to be deleted only once scope has passed.
    if (customer.deleted) {
      return {
        customer: await customerFacts(ctx, customer),
        refusal: new SpendguardError(
          "stripe_error",
          `Customer ${args.customer} has been deleted.`,
          "Nothing to show.",
        ),
        data: null,
      };
    }
    return {
      customer: { id: customer.id, email: customer.email, metadata: customer.metadata },
      data: customer,
    };
  },
  async handle(ctx, _args, resolved) {
    // The guard refuses with `refusal` before any handler runs; this only keeps types honest.
    if (resolved.data === null) throw resolved.refusal;
    const output = viewCustomer(resolved.data, ctx.pii);
    return {
      output,
      text: `Customer ${output.id}: ${output.name ?? "(no name)"}, ${output.email ?? "(no email)"}.`,
    };
  },
});
