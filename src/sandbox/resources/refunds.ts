import { invalidRequest } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listPage, readPage } from "../list.js";
import { formatAmount } from "../money.js";
import { applyMetadata } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { ChargeRecord, Metadata, RefundReason, RefundRecord, Store } from "../store.js";
import { refundedAmount } from "./charges.js";

const REASONS: readonly RefundReason[] = ["duplicate", "fraudulent", "requested_by_customer"];

/** Dispute statuses in which the money is with the card network: no refund possible. */
const CHARGED_BACK = new Set(["needs_response", "under_review", "lost"]);

export interface RefundInput {
  id?: string;
  charge: ChargeRecord;
  /** What is still refundable when left out. */
  amount?: number;
  reason?: RefundReason | null;
  metadata?: Metadata;
}

/** Refunds a charge under Stripe's rules: captured, not charged back, within what is left. */
export function createRefund(ctx: OperationContext, input: RefundInput): RefundRecord {
  const { charge } = input;
  if (charge.failure !== null || !charge.captured) {
    throw invalidRequest(
      charge.failure !== null
        ? `Charge ${charge.id} failed; there is nothing to refund.`
        : `Charge ${charge.id} has not been captured; cancel its authorization instead of refunding it.`,
      { code: "charge_not_refundable" },
    );
  }
  const dispute = ctx.store.disputes.all(ctx.account).find((d) => d.charge === charge.id);
  if (dispute && CHARGED_BACK.has(dispute.status)) {
    throw invalidRequest(`Charge ${charge.id} has been charged back; cannot issue a refund.`, {
      code: "charge_disputed",
    });
  }
  const remaining = charge.amountCaptured - refundedAmount(ctx.store, charge);
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${charge.id} has already been refunded.`, {
      code: "charge_already_refunded",
    });
  }
  const amount = input.amount ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${formatAmount(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatAmount(remaining, charge.currency)})`,
      { param: "amount" },
    );
  }
  return ctx.store.refunds.insert({
    id: input.id ?? ctx.newId("re"),
    account: ctx.account,
    created: ctx.now,
    charge: charge.id,
    paymentIntent: charge.paymentIntent,
    amount,
    currency: charge.currency,
    reason: input.reason ?? null,
    metadata: input.metadata ?? {},
    balanceTransaction: ctx.newId("txn"),
  });
}

export function renderRefund(_store: Store, refund: RefundRecord): JsonObject {
  return {
    id: refund.id,
    object: "refund",
    amount: refund.amount,
    balance_transaction: refund.balanceTransaction,
    charge: refund.charge,
    created: refund.created,
    currency: refund.currency,
    customer: null,
    customer_account: null,
    destination_details: {
      card: {
        reference: null,
        reference_status: "pending",
        reference_type: "acquirer_reference_number",
        type: "refund",
      },
      type: "card",
    },
    metadata: { ...refund.metadata },
    payment_intent: refund.paymentIntent,
    payment_method: null,
    reason: refund.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
}

export const refundRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/refunds",
    permission: { resource: "refunds", access: "write" },
    returns: "refund",
    params: ["charge", "payment_intent", "amount", "reason", "metadata"],
    validate(req) {
      const { params } = req;
      const chargeId = params.string("charge");
      const intentId = params.string("payment_intent");
      if (chargeId === undefined && intentId === undefined) {
        throw invalidRequest(
          "One of the following params should be provided for this request: payment_intent or charge.",
          { code: "parameter_missing" },
        );
      }
      if (chargeId !== undefined && intentId !== undefined) {
        throw invalidRequest(
          "You may only specify one of these parameters: charge, payment_intent.",
          {
            code: "parameters_exclusive",
            param: "payment_intent",
          },
        );
      }
      const amount = params.integer("amount", 1);
      const reason = params.choice("reason", REASONS);
      const metadata = applyMetadata({}, params.metadata());
      return () => {
        const charge =
          chargeId !== undefined
            ? req.store.charges.require(req.account, chargeId, "charge")
            : chargeOfIntent(req, intentId as string);
        return renderRefund(req.store, createRefund(req, { charge, amount, reason, metadata }));
      };
    },
  },
  {
    method: "GET",
    path: "/v1/refunds",
    permission: { resource: "refunds", access: "read" },
    returns: { list: "refund" },
    params: [...LIST_PARAMS, "charge", "payment_intent"],
    validate(req) {
      const page = readPage(req.params);
      const charge = req.params.string("charge");
      const paymentIntent = req.params.string("payment_intent");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.refunds,
          matching: (r) =>
            (charge === undefined || r.charge === charge) &&
            (paymentIntent === undefined || r.paymentIntent === paymentIntent),
          page,
          url: "/v1/refunds",
          render: (r) => renderRefund(req.store, r),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/refunds/:id",
    permission: { resource: "refunds", access: "read" },
    returns: "refund",
    params: [],
    validate: (req) => () =>
      renderRefund(req.store, req.store.refunds.require(req.account, req.id)),
  },
];

function chargeOfIntent(ctx: OperationContext, intentId: string): ChargeRecord {
  const intent = ctx.store.paymentIntents.require(ctx.account, intentId, "payment_intent");
  const charge = intent.latestCharge
    ? ctx.store.charges.get(ctx.account, intent.latestCharge)
    : undefined;
  if (intent.status !== "succeeded" || !charge) {
    throw invalidRequest(
      `This PaymentIntent (${intent.id}) does not have a successful charge to refund.`,
      {
        code: "charge_not_refundable",
        param: "payment_intent",
      },
    );
  }
  return charge;
}
