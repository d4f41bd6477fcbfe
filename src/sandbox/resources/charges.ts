import { invalidRequest, StripeHttpError } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listObject, listPage, readPage } from "../list.js";
import { formatAmount, isKnownCurrency, MAXIMUM_AMOUNT, minimumChargeAmount } from "../money.js";
import { applyMetadata, type Params } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { CardRecord, ChargeRecord, Metadata, Store } from "../store.js";
import {
  billingDetails,
  cardDeclined,
  cardOf,
  declineMessage,
  renderCard,
  sourceFromToken,
} from "./cards.js";
import { renderRefund } from "./refunds.js";

/** `currency`, lower-cased as Stripe stores it, and known to be a currency. */
export function readCurrency(params: Params): string {
  const currency = params.requiredString("currency").toLowerCase();
  if (!isKnownCurrency(currency)) {
    throw invalidRequest(`Invalid currency: ${currency}. Use a three-letter ISO currency code.`, {
      param: "currency",
    });
  }
  return currency;
}

/** Stripe's per-currency minimum and its eight-digit maximum for a charge. */
export function checkChargeAmount(amount: number, currency: string, param = "amount"): void {
  const minimum = minimumChargeAmount(currency);
  if (amount < minimum) {
    throw invalidRequest(`Amount must be at least ${formatAmount(minimum, currency)} ${currency}`, {
      code: "amount_too_small",
      param,
    });
  }
  if (amount > MAXIMUM_AMOUNT) {
    throw invalidRequest(
      `Amount must be no more than ${formatAmount(MAXIMUM_AMOUNT, currency)} ${currency}`,
      {
        code: "amount_too_large",
        param,
      },
    );
  }
}

export interface ChargeAttempt {
  id?: string;
  amount: number;
  currency: string;
  customer: string | null;
  card: CardRecord;
  description?: string | null;
  metadata?: Metadata;
  capture: boolean;
  paymentIntent?: string | null;
}

/** Charges the card: the charge is recorded either way, `failed` when the card declines. */
export function recordCharge(ctx: OperationContext, attempt: ChargeAttempt): ChargeRecord {
  const declineCode = attempt.card.declineCode;
  const captured = declineCode === null && attempt.capture;
  return ctx.store.charges.insert({
    id: attempt.id ?? ctx.newId("ch"),
    account: ctx.account,
    created: ctx.now,
    amount: attempt.amount,
    currency: attempt.currency,
    customer: attempt.customer,
    paymentIntent: attempt.paymentIntent ?? null,
    card: attempt.card.id,
    description: attempt.description ?? null,
    metadata: attempt.metadata ?? {},
    captured,
    amountCaptured: captured ? attempt.amount : 0,
    failure:
      declineCode === null
        ? null
        : { code: "card_declined", declineCode, message: declineMessage(declineCode) },
    balanceTransaction: captured ? ctx.newId("txn") : null,
    receiptNumber: null,
  });
}

/** Marks an authorized charge captured for `amount` (≤ its amount). */
export function captureCharge(ctx: OperationContext, charge: ChargeRecord, amount: number): void {
  charge.captured = true;
  charge.amountCaptured = amount;
  charge.balanceTransaction = ctx.newId("txn");
}

export function refundedAmount(store: Store, charge: ChargeRecord): number {
  return refundsOf(store, charge).reduce((sum, refund) => sum + refund.amount, 0);
}

function refundsOf(store: Store, charge: ChargeRecord) {
  return store.refunds.all(charge.account).filter((refund) => refund.charge === charge.id);
}

/** The card a customer is charged with: the named source, or the default one. */
function customerCard(
  ctx: OperationContext,
  customerId: string,
  source: string | undefined,
): CardRecord {
  const customer = ctx.store.customers.require(ctx.account, customerId, "customer");
  if (source !== undefined) {
    const card = ctx.store.sources.get(ctx.account, source);
    if (card?.customer !== customer.id) {
      throw invalidRequest(
        `Customer ${customer.id} does not have a linked source with ID ${source}.`,
        {
          status: 404,
          code: "missing",
          param: "source",
        },
      );
    }
    return card;
  }
  const card = customer.defaultSource
    ? ctx.store.sources.get(ctx.account, customer.defaultSource)
    : undefined;
  if (!card) {
    throw new StripeHttpError(
      402,
      "card_error",
      "Cannot charge a customer that has no active card",
      {
        code: "missing",
        param: "card",
      },
    );
  }
  return card;
}

const OUTCOME_APPROVED: JsonObject = {
  advice_code: null,
  network_advice_code: null,
  network_decline_code: null,
  network_status: "approved_by_network",
  reason: null,
  risk_level: "normal",
  risk_score: 32,
  seller_message: "Payment complete.",
  type: "authorized",
};

export function renderCharge(store: Store, charge: ChargeRecord): JsonObject {
  const card = cardOf(store, charge.account, charge.card);
  const refunds = refundsOf(store, charge);
  const amountRefunded = refunds.reduce((sum, refund) => sum + refund.amount, 0);
  const succeeded = charge.failure === null;
  return {
    id: charge.id,
    object: "charge",
    amount: charge.amount,
    amount_captured: charge.amountCaptured,
    amount_refunded: amountRefunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: charge.balanceTransaction,
    billing_details: billingDetails(card),
    calculated_statement_descriptor: "SPENDGUARD SANDBOX",
    captured: charge.captured,
    created: charge.created,
    currency: charge.currency,
    customer: charge.customer,
    description: charge.description,
    disputed: store.disputes.all(charge.account).some((d) => d.charge === charge.id),
    failure_balance_transaction: null,
    failure_code: charge.failure?.code ?? null,
    failure_message: charge.failure?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...charge.metadata },
    on_behalf_of: null,
    outcome: charge.failure
      ? {
          ...OUTCOME_APPROVED,
          network_status: "declined_by_network",
          reason: charge.failure.declineCode,
          seller_message: "The bank did not return any further details with this decline.",
          type: "issuer_declined",
        }
      : { ...OUTCOME_APPROVED },
    paid: succeeded,
    payment_intent: charge.paymentIntent,
    payment_method: card.id,
    payment_method_details: {
      card: {
        amount_authorized: succeeded ? charge.amount : null,
        authorization_code: succeeded ? "123456" : null,
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
        country: card.country,
        exp_month: card.expMonth,
        exp_year: card.expYear,
        extended_authorization: { status: "disabled" },
        fingerprint: card.fingerprint,
        funding: card.funding,
        incremental_authorization: { status: "unavailable" },
        installments: null,
        last4: card.last4,
        mandate: null,
        multicapture: { status: "unavailable" },
        network: card.brand,
        network_token: { used: false },
        network_transaction_id: null,
        overcapture: { maximum_amount_capturable: charge.amount, status: "unavailable" },
        regulated_status: "unregulated",
        three_d_secure: null,
        transaction_link_id: null,
        wallet: null,
      },
      type: "card",
    },
    receipt_email: null,
    receipt_number: charge.receiptNumber,
    receipt_url: `https://pay.stripe.com/receipts/payment/${charge.id}`,
    refunded: charge.captured && amountRefunded >= charge.amountCaptured,
    refunds: listObject(
      refunds.slice(0, 10).map((refund) => renderRefund(store, refund)),
      refunds.length > 10,
      `/v1/charges/${charge.id}/refunds`,
    ),
    review: null,
    shipping: null,
    source: card.id.startsWith("card_") ? renderCard(store, card) : null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: succeeded ? "succeeded" : "failed",
    transfer_data: null,
    transfer_group: null,
  };
}

export const chargeRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/charges",
    permission: { resource: "charges", access: "write" },
    returns: "charge",
    params: ["amount", "currency", "customer", "source", "description", "metadata", "capture"],
    validate(req) {
      const { params } = req;
      const amount = params.requiredInteger("amount", 1);
      const currency = readCurrency(params);
      checkChargeAmount(amount, currency);
      const customer = params.string("customer");
      const source = params.string("source");
      if (customer === undefined && source === undefined) {
        throw invalidRequest("Must provide source or customer.", {
          code: "parameter_missing",
          param: "source",
        });
      }
      const description = params.nullableString("description");
      const metadata = applyMetadata({}, params.metadata());
      const capture = params.boolean("capture") ?? true;
      return () => {
        const card =
          customer === undefined
            ? sourceFromToken(req, source as string, null, null)
            : customerCard(req, customer, source);
        const charge = recordCharge(req, {
          amount,
          currency,
          customer: customer ?? null,
          card,
          description,
          metadata,
          capture,
        });
        if (charge.failure) throw cardDeclined(charge.failure.declineCode, { charge: charge.id });
        return renderCharge(req.store, charge);
      };
    },
  },
  {
    method: "GET",
    path: "/v1/charges",
    permission: { resource: "charges", access: "read" },
    returns: { list: "charge" },
    params: [...LIST_PARAMS, "customer", "payment_intent"],
    validate(req) {
      const page = readPage(req.params);
      const customer = req.params.string("customer");
      const paymentIntent = req.params.string("payment_intent");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.charges,
          matching: (c) =>
            (customer === undefined || c.customer === customer) &&
            (paymentIntent === undefined || c.paymentIntent === paymentIntent),
          page,
          url: "/v1/charges",
          render: (c) => renderCharge(req.store, c),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/charges/:id",
    permission: { resource: "charges", access: "read" },
    returns: "charge",
    params: [],
    validate: (req) => () =>
      renderCharge(req.store, req.store.charges.require(req.account, req.id)),
  },
];
