import { invalidRequest, resourceMissing } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listPage, readPage } from "../list.js";
import { applyMetadata } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { DisputeRecord, DisputeStatus, Metadata, Store } from "../store.js";
import { cardOf } from "./cards.js";

/** Stripe's evidence fields; those in FILE_FIELDS take the id of an uploaded file. */
const EVIDENCE_FIELDS = [
  "access_activity_log",
  "billing_address",
  "cancellation_policy",
  "cancellation_policy_disclosure",
  "cancellation_rebuttal",
  "customer_communication",
  "customer_email_address",
  "customer_name",
  "customer_purchase_ip",
  "customer_signature",
  "duplicate_charge_documentation",
  "duplicate_charge_explanation",
  "duplicate_charge_id",
  "product_description",
  "receipt",
  "refund_policy",
  "refund_policy_disclosure",
  "refund_refusal_explanation",
  "service_date",
  "service_documentation",
  "shipping_address",
  "shipping_carrier",
  "shipping_date",
  "shipping_documentation",
  "shipping_tracking_number",
  "uncategorized_file",
  "uncategorized_text",
] as const;

const FILE_FIELDS = new Set([
  "cancellation_policy",
  "customer_communication",
  "customer_signature",
  "duplicate_charge_documentation",
  "receipt",
  "refund_policy",
  "service_documentation",
  "shipping_documentation",
  "uncategorized_file",
]);

/** Evidence is accepted only while Stripe waits for a response. */
const AWAITING_RESPONSE = new Set<DisputeStatus>(["needs_response", "warning_needs_response"]);

export interface DisputeInput {
  id?: string;
  charge: string;
  reason: string;
  status: DisputeStatus;
  /** Amount disputed; the whole charge when left out. */
  amount?: number;
  dueBy: number;
  metadata?: Metadata;
}

export function createDispute(ctx: OperationContext, input: DisputeInput): DisputeRecord {
  const charge = ctx.store.charges.require(ctx.account, input.charge, "charge");
  return ctx.store.disputes.insert({
    id: input.id ?? ctx.newId("dp"),
    account: ctx.account,
    created: ctx.now,
    charge: charge.id,
    amount: input.amount ?? charge.amountCaptured,
    currency: charge.currency,
    reason: input.reason,
    status: input.status,
    evidence: Object.fromEntries(EVIDENCE_FIELDS.map((field) => [field, null])),
    dueBy: input.dueBy,
    submissionCount: 0,
    metadata: input.metadata ?? {},
  });
}

export function renderDispute(store: Store, dispute: DisputeRecord): JsonObject {
  const charge = store.charges.require(dispute.account, dispute.charge);
  const card = cardOf(store, dispute.account, charge.card);
  return {
    id: dispute.id,
    object: "dispute",
    amount: dispute.amount,
    balance_transactions: [],
    charge: dispute.charge,
    created: dispute.created,
    currency: dispute.currency,
    enhanced_eligibility_types: [],
    evidence: { ...dispute.evidence, enhanced_evidence: {} },
    evidence_details: {
      due_by: dispute.dueBy,
      enhanced_eligibility: {},
      has_evidence: Object.values(dispute.evidence).some((value) => value !== null),
      past_due: false,
      submission_count: dispute.submissionCount,
    },
    is_charge_refundable: dispute.status.startsWith("warning_"),
    livemode: false,
    metadata: { ...dispute.metadata },
    payment_intent: charge.paymentIntent,
    payment_method_details: {
      card: {
        brand: card.brand,
        case_type: dispute.status.startsWith("warning_") ? "inquiry" : "chargeback",
        network_reason_code: "10.4",
      },
      type: "card",
    },
    reason: dispute.reason,
    status: dispute.status,
  };
}

export const disputeRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/disputes",
    permission: { resource: "disputes", access: "read" },
    returns: { list: "dispute" },
    params: [...LIST_PARAMS, "charge", "payment_intent"],
    validate(req) {
      const page = readPage(req.params);
      const charge = req.params.string("charge");
      const paymentIntent = req.params.string("payment_intent");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.disputes,
          matching: (d) =>
            (charge === undefined || d.charge === charge) &&
            (paymentIntent === undefined ||
              req.store.charges.get(req.account, d.charge)?.paymentIntent === paymentIntent),
          page,
          url: "/v1/disputes",
          render: (d) => renderDispute(req.store, d),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/disputes/:id",
    permission: { resource: "disputes", access: "read" },
    returns: "dispute",
    params: [],
    validate: (req) => () =>
      renderDispute(req.store, req.store.disputes.require(req.account, req.id)),
  },
  {
    method: "POST",
    path: "/v1/disputes/:id",
    permission: { resource: "disputes", access: "write" },
    returns: "dispute",
    params: ["evidence", "submit", "metadata"],
    validate(req) {
      const evidence = req.params.fields("evidence", EVIDENCE_FIELDS) ?? {};
      for (const [field, value] of Object.entries(evidence)) {
        // The sandbox keeps no uploaded files: any `file_…` id stands for one.
        if (FILE_FIELDS.has(field) && value && !value.startsWith("file_")) {
          throw resourceMissing("file", value, `evidence[${field}]`);
        }
      }
      const submit = req.params.boolean("submit") ?? false;
      const metadata = req.params.metadata();
      return () => {
        const dispute = req.store.disputes.require(req.account, req.id);
        if (!AWAITING_RESPONSE.has(dispute.status)) {
          throw invalidRequest(
            dispute.status.endsWith("under_review")
              ? `This dispute (${dispute.id}) has already been submitted and can no longer be updated.`
              : `This dispute (${dispute.id}) is already closed and can no longer be updated.`,
          );
        }
        dispute.evidence = { ...dispute.evidence, ...evidence };
        dispute.metadata = applyMetadata(dispute.metadata, metadata);
        if (submit) {
          dispute.status =
            dispute.status === "warning_needs_response" ? "warning_under_review" : "under_review";
          dispute.submissionCount += 1;
        }
        return renderDispute(req.store, dispute);
      };
    },
  },
];
