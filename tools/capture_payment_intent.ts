import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids, minorAmount } from "./schemas.js";
import { defineTool, requestIdOf, stampedBy, stampOf, type ToolResult } from "./tool.js";
import { paymentIntentView, viewPaymentIntent } from "./views.js";

export const capturePaymentIntent = defineTool({
  name: "capture_payment_intent",
  title: "Capture an authorized payment",
  description:
    "Captures a Stripe payment intent that is authorized but not yet captured (status requires_capture), which moves the money. `amount_to_capture` is an integer in the currency's smallest unit (cents for usd, whole yen for jpy), at most what is capturable; leave it out to capture all of it. Refused for a customer outside this session's scope or over a spending cap (the refusal says how much is left).",
  input: z
    .object({
      payment_intent: ids.paymentIntent,
      amount_to_capture: minorAmount.optional(),
    })
    .strict(),
  output: paymentIntentView,
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: true,
  },
  kind: "write",
  scope: "customer",
  permissions: { payment_intents: "write", customers: "read" },
  ruleParams: ["payment_intent", "amount_to_capture"],
  async resolve(ctx, args) {
    const intent = await ctx.stripe.paymentIntents.retrieve(
      args.payment_intent,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return {
      customer: await customerFacts(ctx, intent.customer),
      moves: {
        amount: args.amount_to_capture ?? intent.amount_capturable,
        currency: intent.currency,
      },
      data: intent,
    };
  },
  async handle(ctx, args) {
    const intent = await ctx.stripe.paymentIntents.capture(
      args.payment_intent,
      {
        ...(args.amount_to_capture ? { amount_to_capture: args.amount_to_capture } : {}),
        metadata: stampOf(ctx),
      },
      { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey },
    );
    return captureResult(intent);
  },
  async findOutcome(ctx, args, admission) {
    const intent = await ctx.stripe.paymentIntents.retrieve(
      args.payment_intent,
      {},
      ctx.requestOptions,
    );
    if (intent.status === "requires_capture" || intent.status === "canceled") {
      return {
        applied: "no",
        why: `payment intent ${intent.id} is ${intent.status}, not captured`,
      };
    }
    if (stampedBy(intent, admission)) return { applied: "yes", result: captureResult(intent) };
    return {
      applied: "unknown",
      why: `payment intent ${intent.id} is ${intent.status}, but not by this admission's request`,
    };
  },
});

function captureResult(
  intent: Stripe.PaymentIntent,
): ToolResult<ReturnType<typeof viewPaymentIntent>> {
  const output = viewPaymentIntent(intent);
  return {
    output,
    text: `Captured ${output.amount_received.display} on payment intent ${output.id} (${output.status}).`,
    moved: { amount: intent.amount_received, currency: intent.currency },
    stripeRequestId: requestIdOf(intent),
  };
}
