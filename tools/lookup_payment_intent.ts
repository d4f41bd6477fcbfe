import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { paymentIntentView, viewPaymentIntent } from "./views.js";

export const lookupPaymentIntent = defineTool({
  name: "lookup_payment_intent",
  title: "Look up a payment intent",
  description:
    "Shows one Stripe payment intent: amount, how much is capturable and received, status (e.g. requires_capture, succeeded), capture method, its latest charge and customer. Amounts are integers in the currency's smallest unit with a display string. Refused for a customer outside this session's scope.",
  input: z.object({ payment_intent: ids.paymentIntent }).strict(),
  output: paymentIntentView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { payment_intents: "read", customers: "read" },
  ruleParams: ["payment_intent"],
  async resolve(ctx, args) {
    const intent = await ctx.stripe.paymentIntents.retrieve(
      args.payment_intent,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return { customer: await customerFacts(ctx, intent.customer), data: intent };
  },
  async handle(_ctx, _args, resolved) {
    const output = viewPaymentIntent(resolved.data);
    return {
      output,
      text: `Payment intent ${output.id}: ${output.amount.display}, ${output.status}.`,
    };
  },
});
