import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, requestIdOf, stampedBy, stampOf, type ToolResult } from "./tool.js";
import { money, monthlyRevenue, subscriptionView, viewSubscription } from "./views.js";

export const cancelSubscription = defineTool({
  name: "cancel_subscription",
  title: "Cancel a subscription",
  description:
    "Cancels a Stripe subscription. By default it cancels at the end of the current period (the customer keeps what they paid for, no money moves now); `at_period_end: false` cancels at once and is refused unless the operator's policy allows immediate cancellation. Cancellations are limited in number per session and per day, and each is recorded with the monthly recurring revenue it puts at risk. Refused for a customer outside this session's scope.",
  input: z
    .object({
      subscription: ids.subscription,
      at_period_end: z
        .boolean()
        .default(true)
        .describe("true (default): cancel when the paid period ends; false: cancel now."),
    })
    .strict(),
  output: subscriptionView.extend({
    revenue_at_risk: subscriptionView.shape.monthly_revenue,
  }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  kind: "write",
  scope: "customer",
  permissions: { subscriptions: "write", customers: "read" },
  ruleParams: ["subscription", "at_period_end"],
  defaultParamRules: { at_period_end: { equals: true } },
  async resolve(ctx, args) {
    const subscription = await ctx.stripe.subscriptions.retrieve(
      args.subscription,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return {
      customer: await customerFacts(ctx, subscription.customer),
      revenueAtRisk: { amount: monthlyRevenue(subscription), currency: subscription.currency },
      data: subscription,
    };
  },
  async handle(ctx, args) {
    const options = { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey };
    if (args.at_period_end) {
      const subscription = await ctx.stripe.subscriptions.update(
        args.subscription,
        { cancel_at_period_end: true, metadata: stampOf(ctx) },
        options,
      );
      return cancelResult(subscription, true);
    }
    // Cancelling now takes no metadata: the subscription is stamped first.
    await ctx.stripe.subscriptions.update(
      args.subscription,
      { metadata: stampOf(ctx) },
      {
        ...ctx.requestOptions,
        idempotencyKey: ctx.idempotencyKey && `${ctx.idempotencyKey}.stamp`,
      },
    );
    return cancelResult(
      await ctx.stripe.subscriptions.cancel(args.subscription, {}, options),
      false,
    );
  },
  async findOutcome(ctx, args, admission) {
    const subscription = await ctx.stripe.subscriptions.retrieve(
      args.subscription,
      {},
      ctx.requestOptions,
    );
    const done = args.at_period_end
      ? subscription.cancel_at_period_end || subscription.status === "canceled"
      : subscription.status === "canceled";
    if (!done) {
      return {
        applied: "no",
        why: `subscription ${subscription.id} is ${subscription.status}, not cancelled`,
      };
    }
    if (stampedBy(subscription, admission)) {
      return { applied: "yes", result: cancelResult(subscription, args.at_period_end) };
    }
    return {
      applied: "unknown",
      why: `subscription ${subscription.id} is cancelled, but not stamped by this admission`,
    };
  },
});

function cancelResult(
  subscription: Stripe.Subscription,
  atPeriodEnd: boolean,
): ToolResult<ReturnType<typeof viewSubscription> & { revenue_at_risk: ReturnType<typeof money> }> {
  const view = viewSubscription(subscription);
  const revenueAtRisk = money(monthlyRevenue(subscription), subscription.currency);
  return {
    output: { ...view, revenue_at_risk: revenueAtRisk },
    text: atPeriodEnd
      ? `Subscription ${view.id} will cancel at period end (${view.current_period_end ?? "unknown"}); ${revenueAtRisk.display} a month at risk.`
      : `Subscription ${view.id} is canceled now; ${revenueAtRisk.display} a month at risk.`,
    stripeRequestId: requestIdOf(subscription),
  };
}
