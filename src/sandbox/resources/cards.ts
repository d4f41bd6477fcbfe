import { invalidRequest, resourceMissing, StripeHttpError } from "../errors.js";
import type { JsonObject } from "../json.js";
import type { OperationContext, Route } from "../route.js";
import type { CardRecord, Store } from "../store.js";

/**
 * Cards, as Stripe's test mode hands them out: test tokens (`tok_visa`) become customer
 * sources (`card_…`), test PaymentMethods (`pm_card_visa`) become PaymentMethods (`pm_…`).
 * Each test card declines or not the way Stripe documents for it.
 */
interface TestCard {
  brand: "visa" | "mastercard" | "amex";
  last4: string;
  funding: "credit" | "debit";
  /** The decline a charge meets, or null when it succeeds. */
  declineCode: string | null;
  /** Stripe checks a card when it is attached; these fail there already. */
  declinesOnAttach: boolean;
}

const TEST_CARDS: Record<string, TestCard> = {
  visa: {
    brand: "visa",
    last4: "4242",
    funding: "credit",
    declineCode: null,
    declinesOnAttach: false,
  },
  visa_debit: {
    brand: "visa",
    last4: "5556",
    funding: "debit",
    declineCode: null,
    declinesOnAttach: false,
  },
  mastercard: {
    brand: "mastercard",
    last4: "4444",
    funding: "credit",
    declineCode: null,
    declinesOnAttach: false,
  },
  amex: {
    brand: "amex",
    last4: "8431",
    funding: "credit",
    declineCode: null,
    declinesOnAttach: false,
  },
  chargeDeclined: {
    brand: "visa",
    last4: "0002",
    funding: "credit",
    declineCode: "generic_decline",
    declinesOnAttach: true,
  },
  chargeDeclinedInsufficientFunds: {
    brand: "visa",
    last4: "9995",
    funding: "credit",
    declineCode: "insufficient_funds",
    declinesOnAttach: true,
  },
  /** Attaches fine; every later charge on it is declined (Stripe's `tok_chargeCustomerFail`). */
  chargeCustomerFail: {
    brand: "visa",
    last4: "0341",
    funding: "credit",
    declineCode: "generic_decline",
    declinesOnAttach: false,
  },
};

const DECLINE_MESSAGES: Record<string, string> = {
  generic_decline: "Your card was declined.",
  insufficient_funds: "Your card has insufficient funds.",
};

/** Stripe's 402 for a declined card; `extra` adds what Stripe links (`charge`, `payment_intent`). */
export function cardDeclined(declineCode: string, extra: JsonObject = {}): StripeHttpError {
  return new StripeHttpError(402, "card_error", declineMessage(declineCode), {
    code: "card_declined",
    extra: { decline_code: declineCode, ...extra },
  });
}

export function declineMessage(declineCode: string): string {
  return DECLINE_MESSAGES[declineCode] ?? "Your card was declined.";
}

function testCard(kind: "tok" | "pm_card", name: string, param: string): TestCard {
  const prefix = `${kind}_`;
  const card = name.startsWith(prefix) ? TEST_CARDS[name.slice(prefix.length)] : undefined;
  if (!card) throw resourceMissing(kind === "tok" ? "token" : "PaymentMethod", name, param);
  return card;
}

function cardRecord(
  ctx: OperationContext,
  prefix: "card" | "pm",
  card: TestCard,
  customer: string | null,
  name: string | null,
): Omit<CardRecord, "seq"> {
  return {
    id: ctx.newId(prefix),
    account: ctx.account,
    created: ctx.now,
    customer,
    brand: card.brand,
    last4: card.last4,
    funding: card.funding,
    country: "US",
    expMonth: 12,
    expYear: new Date(ctx.now * 1000).getUTCFullYear() + 3,
    fingerprint: `Sg${card.brand}${card.last4}Fp`,
    name,
    declineCode: card.declineCode,
  };
}

/** A test token turned into a source of `customer` (or a one-off card when null). */
export function sourceFromToken(
  ctx: OperationContext,
  token: string,
  customer: string | null,
  name: string | null,
  param = "source",
): CardRecord {
  const card = testCard("tok", token, param);
  if (customer !== null && card.declinesOnAttach)
    throw cardDeclined(card.declineCode ?? "generic_decline");
  return ctx.store.sources.insert(cardRecord(ctx, "card", card, customer, name));
}

/**
 * The PaymentMethod a request names: a test one (`pm_card_visa`, made fresh each time, as
 * Stripe does), an existing `pm_…` of the account, or a source (`card_…`) of the customer.
 */
export function paymentMethodFor(
  ctx: OperationContext,
  id: string,
  customer: string | null,
): CardRecord {
  const existing = id.startsWith("card_")
    ? ctx.store.sources.get(ctx.account, id)
    : ctx.store.paymentMethods.get(ctx.account, id);
  if (existing) {
    if (existing.customer !== null && existing.customer !== customer) {
      throw invalidRequest(
        `The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.`,
        { param: "payment_method" },
      );
    }
    return existing;
  }
  if (id.startsWith("card_")) throw resourceMissing("PaymentMethod", id, "payment_method");
  const card = testCard("pm_card", id, "payment_method");
  return ctx.store.paymentMethods.insert(cardRecord(ctx, "pm", card, null, null));
}

/** The card behind a charge's `payment_method`: a source or a PaymentMethod. */
export function cardOf(store: Store, account: string, id: string): CardRecord {
  const card = id.startsWith("pm_")
    ? store.paymentMethods.get(account, id)
    : store.sources.get(account, id);
  if (!card) throw new Error(`sandbox state is inconsistent: card ${id} is missing`);
  return card;
}

const SOURCE_BRANDS: Record<string, string> = {
  visa: "Visa",
  mastercard: "MasterCard",
  amex: "American Express",
};

/** A customer source, `object: "card"` (Stripe's legacy Cards API shape). */
export function renderCard(_store: Store, card: CardRecord): JsonObject {
  return {
    id: card.id,
    object: "card",
    address_city: null,
    address_country: null,
    address_line1: null,
    address_line1_check: null,
    address_line2: null,
    address_state: null,
    address_zip: null,
    address_zip_check: null,
    allow_redisplay: "unspecified",
    brand: SOURCE_BRANDS[card.brand] ?? card.brand,
    country: card.country,
    customer: card.customer,
    cvc_check: "pass",
    dynamic_last4: null,
    exp_month: card.expMonth,
    exp_year: card.expYear,
    fingerprint: card.fingerprint,
    funding: card.funding,
    last4: card.last4,
    metadata: {},
    name: card.name,
    regulated_status: "unregulated",
    tokenization_method: null,
    wallet: null,
  };
}

export function renderPaymentMethod(_store: Store, card: CardRecord): JsonObject {
  return {
    id: card.id,
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: billingDetails(card),
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: card.country,
      display_brand: card.brand,
      exp_month: card.expMonth,
      exp_year: card.expYear,
      fingerprint: card.fingerprint,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: card.created,
    customer: card.customer,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
}

export function billingDetails(card: CardRecord): JsonObject {
  return {
    address: {
      city: null,
      country: null,
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    },
    email: null,
    name: card.name,
    phone: null,
    tax_id: null,
  };
}

export const cardRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/payment_methods/:id",
    permission: { resource: "payment_methods", access: "read" },
    returns: "payment_method",
    params: [],
    validate: (req) => () =>
      renderPaymentMethod(req.store, req.store.paymentMethods.require(req.account, req.id)),
  },
];
