import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids, minorAmount } from "./schemas.js";
import {
  defineTool,
  requestIdOf,
  SpendguardError,
  stampedBy,
  stampOf,
  type ToolResult,
} from "./tool.js";
import { refundableAmount, refundView, viewRefund } from "./views.js";

export const issueRefund = defineTool({
  name: "issue_refund",
  title: "Refund a charge",
  description:
    "Refunds a Stripe charge (give `charge`) or the charge of a payment intent (give `payment_intent`) — exactly one of them. `amount` is an integer in the charge currency's smallest unit (cents for usd: 2500 = $25.00; whole yen for jpy); leave it out to refund everything still refundable. `reason` is one of duplicate, fraudulent, requested_by_customer. Refused when the customer is outside this session's scope, when the amount is over a spending cap (the refusal says how much is left), or when the policy's parameter rules forbid it. Repeating the exact same refund returns the first result instead of refunding twice.",
  input: z
    .object({
      charge: ids.charge.optional(),
      payment_intent: ids.paymentIntent.optional(),
      amount: minorAmount.optional(),
      reason: z
        .enum(["duplicate", "fraudulent", "requested_by_customer"])
        .optional()
        .describe("Why the money goes back, in Stripe's terms."),
    })
    .strict()
    .refine((args) => (args.charge === undefined) !== (args.payment_intent === undefined), {
      message: "give exactly one of charge or payment_intent",
    }),
  output: refundView,
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  kind: "write",
  scope: "customer",
  permissions: { refunds: "write", charges: "read", customers: "read", payment_intents: "read" },
  ruleParams: ["charge", "payment_intent", "amount", "reason", "refund_fraction"],
  async resolve(ctx, args) {
    const found = args.charge
      ? {
          charge: await ctx.stripe.charges.retrieve(
            args.charge,
            { expand: ["customer"] },
            ctx.requestOptions,
          ),
        }
      : await latestChargeOf(ctx.stripe, args.payment_intent ?? "", ctx.requestOptions);
    const { charge } = found;
    if (!charge) {
      // Said only once scope has passed: the intent's state is its customer's business.
      return {
        customer: await customerFacts(ctx, found.intent.customer),
        refusal: new SpendguardError(
          "stripe_error",
          `Payment intent ${found.intent.id} has no charge to refund (status ${found.intent.status}).`,
          "Only a payment intent that has been charged can be refunded.",
        ),
        data: null,
      };
    }
    const amount = args.amount ?? refundableAmount(charge);
    return {
      customer: await customerFacts(ctx, charge.customer),
      moves: { amount, currency: charge.currency },
      attributes: { refund_fraction: charge.amount > 0 ? amount / charge.amount : 1 },
      data: charge,
    };
  },
  async handle(ctx, args) {
    const refund = await ctx.stripe.refunds.create(
      {
        ...(args.charge ? { charge: args.charge } : { payment_intent: args.payment_intent }),
        ...(args.amount ? { amount: args.amount } : {}),
        ...(args.reason ? { reason: args.reason } : {}),
        metadata: stampOf(ctx),
      },
      { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey },
    );
    return refundResult(refund, args.payment_intent);
  },
  async findOutcome(ctx, args, admission) {
    // A charge's refund list is complete and current: a refund that is not on it was never made.
    const charge =
      args.charge ??
      (await latestChargeOf(ctx.stripe, args.payment_intent ?? "", ctx.requestOptions)).charge?.id;
    if (charge === undefined) return { applied: "no", why: "its payment intent has no charge" };
    let startingAfter: string | undefined;
    for (;;) {
      const page = await ctx.stripe.refunds.list(
        { charge, limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) },
        ctx.requestOptions,
      );
      const refund = page.data.find((r) => stampedBy(r, admission));
      if (refund?.status === "failed" || refund?.status === "canceled") {
        return { applied: "no", why: `its refund ${refund.id} ${refund.status}: no money moved` };
      }
      if (refund) {
        const result = refundResult(refund, args.payment_intent);
        return { applied: "yes", result: { ...result, stripeRequestId: requestIdOf(page) } };
      }
      startingAfter = page.data.at(-1)?.id;
      if (!page.has_more || startingAfter === undefined) break;
    }
    return { applied: "no", why: `no refund on charge ${charge} carries its stamp` };
  },
});

/** The intent's latest charge, or the intent alone (with its customer) when it has none. */
async function latestChargeOf(
  stripe: Stripe,
  paymentIntent: string,
  options: Stripe.RequestOptions,
): Promise<
  { charge: Stripe.Charge; intent?: never } | { charge: null; intent: Stripe.PaymentIntent }
> {
  const intent = await stripe.paymentIntents.retrieve(
    paymentIntent,
    { expand: ["latest_charge"] },
    options,
  );
  const charge = intent.latest_charge;
  if (charge == null || typeof charge === "string") return { charge: null, intent };
  return { charge };
}

function refundResult(
  refund: Stripe.Refund,
  paymentIntent: string | undefined,
): ToolResult<ReturnType<typeof viewRefund>> {
  const output = viewRefund(refund);
  return {
    output,
    text: `Refunded ${output.amount.display} of charge ${output.charge ?? paymentIntent} (refund ${output.id}, ${output.status}).`,
    moved: { amount: refund.amount, currency: refund.currency },
    stripeRequestId: requestIdOf(refund),
  };
}
