import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids, listLimit } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { subscriptionView, viewSubscription } from "./views.js";

export const listSubscriptions = defineTool({
  name: "list_subscriptions",
  title: "List a customer's subscriptions",
  description:
    "Lists one customer's subscriptions, newest first, with status, prices and monthly recurring revenue. `status` filters (default: all but canceled, as Stripe does). Refused for a customer outside this session's scope.",
  input: z
    .object({
      customer: ids.customer,
      status: z
        .enum(["active", "past_due", "unpaid", "canceled", "incomplete", "trialing", "all"])
        .optional()
        .describe("Only subscriptions in this status; `all` includes canceled ones."),
      limit: listLimit,
    })
    .strict(),
  output: z.object({ subscriptions: z.array(subscriptionView), has_more: z.boolean() }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { subscriptions: "read", customers: "read" },
  ruleParams: ["customer", "status"],
  async resolve(ctx, args) {
    return { customer: await customerFacts(ctx, args.customer), data: undefined };
  },
  async handle(ctx, args) {
    const page = await ctx.stripe.subscriptions.list(
      {
        customer: args.customer,
        limit: args.limit,
        ...(args.status ? { status: args.status } : {}),
      },
      ctx.requestOptions,
    );
    const subscriptions = page.data.map(viewSubscription);
    return {
      output: { subscriptions, has_more: page.has_more },
      text: `${subscriptions.length} subscription(s) for ${args.customer}.`,
    };
  },
});
