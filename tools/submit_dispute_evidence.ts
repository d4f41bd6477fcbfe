import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import {
  ADMISSION_METADATA_KEY,
  defineTool,
  requestIdOf,
  stampedBy,
  stampOf,
  type ToolResult,
} from "./tool.js";
import { disputeView, viewDispute } from "./views.js";

const text = (what: string) => z.string().max(5000).optional().describe(what);

export const submitDisputeEvidence = defineTool({
  name: "submit_dispute_evidence",
  title: "Submit dispute evidence",
  description:
    "Adds text evidence to a Stripe dispute (chargeback) and, by default, submits it to the bank (`submit: false` only saves it). Submission is final: evidence cannot be changed afterwards. Moves no money. Refused for a customer outside this session's scope, or by Stripe when the dispute no longer accepts evidence.",
  input: z
    .object({
      dispute: ids.dispute,
      evidence: z
        .object({
          customer_name: text("The customer's name."),
          customer_email_address: text("The customer's email address."),
          product_description: text("What was sold."),
          uncategorized_text: text("Any other evidence or explanation."),
          cancellation_rebuttal: text("Why the customer was not owed a cancellation."),
          refund_refusal_explanation: text("Why the customer was not owed a refund."),
          duplicate_charge_explanation: text("Why the charges are not duplicates."),
          service_date: text("When the service was provided."),
          shipping_carrier: text("Who shipped the goods."),
          shipping_tracking_number: text("The shipment's tracking number."),
          access_activity_log: text("Log of the customer's use of the service."),
        })
        .strict()
        .refine((evidence) => Object.values(evidence).some(Boolean), {
          message: "give at least one evidence field",
        }),
      submit: z
        .boolean()
        .default(true)
        .describe("true (default): submit now, final; false: save without submitting."),
    })
    .strict(),
  output: disputeView,
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: true,
  },
  kind: "write",
  scope: "customer",
  permissions: { disputes: "write", charges: "read", customers: "read" },
  ruleParams: ["dispute", "submit"],
  async resolve(ctx, args) {
    const dispute = await ctx.stripe.disputes.retrieve(
      args.dispute,
      { expand: ["charge"] },
      ctx.requestOptions,
    );
    const charge = dispute.charge as Stripe.Charge | string;
    const customer =
      typeof charge === "string"
        ? await customerFacts(
            ctx,
            (await ctx.stripe.charges.retrieve(charge, {}, ctx.requestOptions)).customer,
          )
        : await customerFacts(ctx, charge.customer);
    return { customer, data: dispute };
  },
  async handle(ctx, args) {
    const dispute = await ctx.stripe.disputes.update(
      args.dispute,
      { evidence: args.evidence, submit: args.submit, metadata: stampOf(ctx) },
      { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey },
    );
    return evidenceResult(dispute, args.submit);
  },
  async findOutcome(ctx, args, admission) {
    const dispute = await ctx.stripe.disputes.retrieve(args.dispute, {}, ctx.requestOptions);
    if (stampedBy(dispute, admission)) {
      return { applied: "yes", result: evidenceResult(dispute, args.submit) };
    }
    // Another write of ours may have stamped it since; only no stamp at all proves nothing applied.
    if (dispute.metadata?.[ADMISSION_METADATA_KEY] === undefined) {
      return { applied: "no", why: `dispute ${dispute.id} carries no spendguard stamp` };
    }
    return {
      applied: "unknown",
      why: `dispute ${dispute.id} was last changed by another admission`,
    };
  },
});

function evidenceResult(
  dispute: Stripe.Dispute,
  submit: boolean,
): ToolResult<ReturnType<typeof viewDispute>> {
  const output = viewDispute(dispute);
  return {
    output,
    text: submit
      ? `Evidence submitted for dispute ${output.id}; status ${output.status}.`
      : `Evidence saved (not submitted) for dispute ${output.id}; status ${output.status}.`,
    stripeRequestId: requestIdOf(dispute),
  };
}
