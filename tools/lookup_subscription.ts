import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { subscriptionView, viewSubscription } from "./views.js";

export const lookupSubscription = defineTool({
  name: "lookup_subscription",
  title: "Look up a subscription",
  description:
    "Shows one Stripe subscription: status, whether it cancels at period end, when the current period ends, its prices and the monthly recurring revenue it brings. Amounts are integers in the currency's smallest unit with a display string. Refused for a customer outside this session's scope.",
  input: z.object({ subscription: ids.subscription }).strict(),
  output: subscriptionView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { subscriptions: "read", customers: "read" },
  ruleParams: ["subscription"],
  async resolve(ctx, args) {
    const subscription = await ctx.stripe.subscriptions.retrieve(
      args.subscription,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return { customer: await customerFacts(ctx, subscription.customer), data: subscription };
  },
  async handle(_ctx, _args, resolved) {
    const output = viewSubscription(resolved.data);
    return {
      output,
      text: `Subscription ${output.id}: ${output.status}, ${output.monthly_revenue.display} a month${output.cancel_at_period_end ? ", cancels at period end" : ""}.`,
    };
  },
});
