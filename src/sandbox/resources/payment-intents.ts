import { invalidRequest, parameterMissing } from "../errors.js";
import { clientSecret } from "../ids.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listPage, readPage } from "../list.js";
import { applyMetadata } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { CardRecord, PaymentIntentRecord, Store } from "../store.js";
import { cardDeclined, paymentMethodFor, renderPaymentMethod } from "./cards.js";
import { captureCharge, checkChargeAmount, readCurrency, recordCharge } from "./charges.js";

const CAPTURE_METHODS = ["automatic", "automatic_async", "manual"] as const;

export interface PaymentIntentInput {
  id?: string;
  amount: number;
  currency: string;
  customer: string | null;
  paymentMethod: string | null;
  confirm: boolean;
  captureMethod: PaymentIntentRecord["captureMethod"];
  description?: string | null;
  metadata?: Record<string, string>;
}

export function createPaymentIntent(
  ctx: OperationContext,
  input: PaymentIntentInput,
): PaymentIntentRecord {
  const customer =
    input.customer === null
      ? null
      : ctx.store.customers.require(ctx.account, input.customer, "customer").id;
  const card =
    input.paymentMethod === null ? null : paymentMethodFor(ctx, input.paymentMethod, customer);
  const id = input.id ?? ctx.newId("pi");
  const intent = ctx.store.paymentIntents.insert({
    id,
    account: ctx.account,
    created: ctx.now,
    amount: input.amount,
    currency: input.currency,
    customer,
    paymentMethod: card?.id ?? null,
    captureMethod: input.captureMethod,
    status: card === null ? "requires_payment_method" : "requires_confirmation",
    latestCharge: null,
    description: input.description ?? null,
    metadata: input.metadata ?? {},
    clientSecret: clientSecret(id),
    lastPaymentError: null,
  });
  if (input.confirm && card !== null) confirm(ctx, intent, card);
  return intent;
}

/** Charges the intent's card: `requires_capture` (manual) or `succeeded`, or Stripe's 402. */
function confirm(ctx: OperationContext, intent: PaymentIntentRecord, card: CardRecord): void {
  const charge = recordCharge(ctx, {
    amount: intent.amount,
    currency: intent.currency,
    customer: intent.customer,
    card,
    description: intent.description,
    capture: intent.captureMethod !== "manual",
    paymentIntent: intent.id,
  });
  intent.latestCharge = charge.id;
  if (charge.failure === null) {
    intent.status = intent.captureMethod === "manual" ? "requires_capture" : "succeeded";
    return;
  }
  // A declined attempt leaves the intent waiting for another payment method.
  const paymentMethod = card.id.startsWith("pm_") ? renderPaymentMethod(ctx.store, card) : null;
  intent.status = "requires_payment_method";
  intent.paymentMethod = null;
  intent.lastPaymentError = {
    charge: charge.id,
    code: charge.failure.code,
    decline_code: charge.failure.declineCode,
    message: charge.failure.message,
    payment_method: paymentMethod,
    type: "card_error",
  };
  throw cardDeclined(charge.failure.declineCode, {
    charge: charge.id,
    payment_intent: renderPaymentIntent(ctx.store, intent),
    payment_method: paymentMethod,
  });
}

export function renderPaymentIntent(store: Store, intent: PaymentIntentRecord): JsonObject {
  const charge = intent.latestCharge
    ? store.charges.get(intent.account, intent.latestCharge)
    : undefined;
  return {
    id: intent.id,
    object: "payment_intent",
    amount: intent.amount,
    amount_capturable: intent.status === "requires_capture" && charge ? charge.amount : 0,
    amount_details: { tip: {} },
    amount_received: charge?.captured ? charge.amountCaptured : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: intent.captureMethod,
    client_secret: intent.clientSecret,
    confirmation_method: "automatic",
    created: intent.created,
    currency: intent.currency,
    customer: intent.customer,
    customer_account: null,
    description: intent.description,
    excluded_payment_method_types: null,
    last_payment_error: intent.lastPaymentError,
    latest_charge: intent.latestCharge,
    livemode: false,
    managed_payments: null,
    metadata: { ...intent.metadata },
    next_action: null,
    on_behalf_of: null,
    payment_method: intent.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: {
        installments: null,
        mandate_options: null,
        network: null,
        request_three_d_secure: "automatic",
      },
    },
    payment_method_types: ["card"],
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: intent.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export const paymentIntentRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/payment_intents",
    permission: { resource: "payment_intents", access: "write" },
    returns: "payment_intent",
    params: [
      "amount",
      "currency",
      "customer",
      "payment_method",
      // The pinned API version's name for what older versions called payment_method_types.
      "allowed_payment_method_types",
      "confirm",
      "capture_method",
      "description",
      "metadata",
    ],
    validate(req) {
      const { params } = req;
      const amount = params.requiredInteger("amount", 1);
      const currency = readCurrency(params);
      checkChargeAmount(amount, currency);
      const paymentMethod = params.string("payment_method") ?? null;
      const confirmNow = params.boolean("confirm") ?? false;
      if (confirmNow && paymentMethod === null) throw parameterMissing("payment_method");
      const types = params.list("allowed_payment_method_types");
      const unsupported = types.find((type) => type !== "card");
      if (unsupported !== undefined) {
        throw invalidRequest(
          `The payment method type "${unsupported}" is invalid. This sandbox supports: card.`,
          {
            code: "payment_intent_invalid_parameter",
            param: "allowed_payment_method_types",
          },
        );
      }
      const input: PaymentIntentInput = {
        amount,
        currency,
        customer: params.string("customer") ?? null,
        paymentMethod,
        confirm: confirmNow,
        captureMethod: params.choice("capture_method", CAPTURE_METHODS) ?? "automatic",
        description: params.nullableString("description"),
        metadata: applyMetadata({}, params.metadata()),
      };
      return () => renderPaymentIntent(req.store, createPaymentIntent(req, input));
    },
  },
  {
    method: "GET",
    path: "/v1/payment_intents",
    permission: { resource: "payment_intents", access: "read" },
    returns: { list: "payment_intent" },
    params: [...LIST_PARAMS, "customer"],
    validate(req) {
      const page = readPage(req.params);
      const customer = req.params.string("customer");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.paymentIntents,
          matching: (pi) => customer === undefined || pi.customer === customer,
          page,
          url: "/v1/payment_intents",
          render: (pi) => renderPaymentIntent(req.store, pi),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/payment_intents/:id",
    permission: { resource: "payment_intents", access: "read" },
    returns: "payment_intent",
    params: [],
    validate: (req) => () =>
      renderPaymentIntent(req.store, req.store.paymentIntents.require(req.account, req.id)),
  },
  {
    method: "POST",
    path: "/v1/payment_intents/:id/capture",
    permission: { resource: "payment_intents", access: "write" },
    returns: "payment_intent",
    params: ["amount_to_capture", "metadata"],
    validate(req) {
      const amountToCapture = req.params.integer("amount_to_capture", 1);
      const metadata = req.params.metadata();
      return () => {
        const intent = req.store.paymentIntents.require(req.account, req.id);
        const charge = intent.latestCharge
          ? req.store.charges.get(req.account, intent.latestCharge)
          : undefined;
        if (intent.status !== "requires_capture" || !charge) {
          throw invalidRequest(
            `This PaymentIntent could not be captured because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`,
            {
              code: "payment_intent_unexpected_state",
              extra: { payment_intent: renderPaymentIntent(req.store, intent) },
            },
          );
        }
        const amount = amountToCapture ?? charge.amount;
        if (amount > charge.amount) {
          throw invalidRequest(
            `The amount_to_capture (${amount}) cannot be greater than the amount_capturable (${charge.amount}) on this PaymentIntent.`,
            { code: "amount_too_large", param: "amount_to_capture" },
          );
        }
        captureCharge(req, charge, amount);
        intent.status = "succeeded";
        intent.metadata = applyMetadata(intent.metadata, metadata);
        return renderPaymentIntent(req.store, intent);
      };
    },
  },
];
