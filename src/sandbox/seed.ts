import { sequentialIds } from "./ids.js";
import { recordCharge } from "./resources/charges.js";
import { type CustomerInput, createCustomer } from "./resources/customers.js";
import { createDispute } from "./resources/disputes.js";
import { createInvoice } from "./resources/invoices.js";
import { createPaymentIntent } from "./resources/payment-intents.js";
import { createRefund } from "./resources/refunds.js";
import { addInterval, createSubscription } from "./resources/subscriptions.js";
import type { OperationContext } from "./route.js";
import type { Store } from "./store.js";

export type SeedName = "demo" | "empty";

/** The account a request without `Stripe-Account` acts on. */
export const PLATFORM_ACCOUNT = "acct_1SgSandboxPlatform";

/**
 * The notable objects of the `demo` seed, by name, so tests, docs and the demo can use
 * them. Ids never change; `created` times are relative to the sandbox's clock at start.
 * Two tenants share the platform account through `metadata.tenant`: `acme` and `globex`.
 */
export const DEMO = {
  accounts: {
    platform: PLATFORM_ACCOUNT,
    /** A Connect account; reachable with `Stripe-Account`, it holds one customer and one charge. */
    connected: "acct_1SgConnectedShop",
  },
  customers: {
    /** acme; Visa 4242 as default source; holds the large charge and the card that captures. */
    acmeJane: "cus_SgAcmeJaneDoe",
    /** acme; Mastercard 4444; holds the refunded and the disputed charges. */
    acmeJohn: "cus_SgAcmeJohnRoe",
    /** acme; a card that attaches but declines every charge (Stripe's tok_chargeCustomerFail). */
    acmeCardFails: "cus_SgAcmeCardFails",
    /** globex; Visa; an eur customer in Germany. */
    globexHank: "cus_SgGlobexHank",
    /** globex; Visa; a jpy customer in Japan. */
    globexMarge: "cus_SgGlobexMarge",
    /** No `tenant` metadata at all: belongs to no tenant's scope. */
    noTenant: "cus_SgNoTenant",
    /** On the connected account only (tenant acme there); Visa. */
    connectedShopper: "cus_SgConnectedShopper",
  },
  charges: {
    /** $500.00 usd, acmeJane, untouched: room for refund loops. */
    acmeLarge: "ch_SgAcmeLarge500Usd",
    /** $50.00 usd each, acmeJane, untouched. */
    acmeSmallA: "ch_SgAcmeSmall50UsdA",
    acmeSmallB: "ch_SgAcmeSmall50UsdB",
    acmeSmallC: "ch_SgAcmeSmall50UsdC",
    /** $40.00 usd, acmeJohn, $18.55 refunded: $21.45 left. */
    acmePartiallyRefunded: "ch_SgAcmePartRefunded",
    /** $30.00 usd, acmeJohn, fully refunded. */
    acmeFullyRefunded: "ch_SgAcmeFullRefunded",
    /** $120.00 usd, acmeJohn, disputed (needs_response): cannot be refunded. */
    acmeDisputed: "ch_SgAcmeDisputed",
    /** $49.00 usd, acmeJane, paid the invoice `acmePaid`. */
    acmeInvoicePaid: "ch_SgAcmeInvoicePaid",
    /** €75.00 eur, globexHank. */
    globexEur: "ch_SgGlobexEur75",
    /** ¥5,000 jpy (zero-decimal), globexMarge. */
    globexJpy: "ch_SgGlobexJpy5000",
    /** €40.00 eur, globexHank, under an inquiry (warning_needs_response); still refundable. */
    globexInquiry: "ch_SgGlobexInquiry",
    /** $20.00 usd, noTenant. */
    noTenant: "ch_SgNoTenant20Usd",
    /** $42.00 usd on the connected account. */
    connected: "ch_SgConnectedShop42",
  },
  paymentIntents: {
    /** $150.00 usd, acmeJane, manual capture, authorized: `requires_capture`. */
    acmeRequiresCapture: "pi_SgAcmeNeedsCapture",
    /** $65.00 usd, acmeJohn, succeeded: refundable by payment_intent. */
    acmeSucceeded: "pi_SgAcmeSucceeded65",
  },
  refunds: {
    /** $18.55 of acmePartiallyRefunded. */
    acmePartial: "re_SgAcmePartial1855",
    /** All $30.00 of acmeFullyRefunded. */
    acmeFull: "re_SgAcmeFull3000",
  },
  products: {
    acmePro: "prod_SgAcmePro",
    acmeTeam: "prod_SgAcmeTeam",
    globexSuite: "prod_SgGlobexSuite",
  },
  prices: {
    /** $49.00 usd a month. */
    proMonthlyUsd: "price_SgProMonthlyUsd",
    /** $15.00 usd a month per seat. */
    teamSeatMonthlyUsd: "price_SgTeamSeatMonthly",
    /** €1,200.00 eur a year. */
    suiteYearlyEur: "price_SgSuiteYearlyEur",
  },
  subscriptions: {
    /** acmeJane, Pro monthly ($49.00/month), active. */
    acmeJaneMonthly: "sub_SgAcmeJaneMonthly",
    /** acmeJohn, 5 team seats ($75.00/month), active. */
    acmeJohnSeats: "sub_SgAcmeJohnSeats",
    /** globexHank, Suite yearly (€1,200.00/year = €100.00/month), active. */
    globexHankYearly: "sub_SgGlobexHankYearly",
    /** acmeCardFails, Pro monthly, canceled 10 days ago (listed only with status=canceled/all). */
    acmeCanceled: "sub_SgAcmeCanceled",
  },
  invoices: {
    /** acmeJane, $49.00 usd, open: paying it charges her Visa. */
    acmeOpen: "in_SgAcmeJaneOpen",
    /** acmeCardFails, $99.00 usd, open: paying it meets a card decline (402). */
    acmeCardFails: "in_SgAcmeCardFails",
    /** acmeJane, $49.00 usd, paid by the charge acmeInvoicePaid. */
    acmePaid: "in_SgAcmeJanePaid",
    /** globexHank, €1,200.00 eur, open. */
    globexOpen: "in_SgGlobexHankOpen",
  },
  disputes: {
    /** On acmeDisputed, fraudulent, needs_response: evidence can be submitted. */
    acmeNeedsResponse: "dp_SgAcmeFraudulent",
    /** On globexInquiry, warning_needs_response. */
    globexInquiry: "dp_SgGlobexInquiry",
  },
} as const;

const DAY = 24 * 60 * 60;

/** Fills the store with the `demo` objects, as of `now` (unix seconds). */
export function seedDemo(store: Store, now: number): void {
  const newId = sequentialIds("SgSeed");
  const platform = { store, account: PLATFORM_ACCOUNT, now, newId };
  /** The same context, `days` earlier: objects get distinct, realistic creation times. */
  const at = (days: number, base: OperationContext = platform): OperationContext => ({
    ...base,
    now: now - days * DAY,
  });
  const { customers: C, charges: H, prices: P } = DEMO;

  const customer = (days: number, input: CustomerInput & { id: string }) =>
    createCustomer(at(days), input);
  customer(90, {
    id: C.acmeJane,
    email: "jane.doe@acme.example",
    name: "Jane Doe",
    phone: "+14155550101",
    address: {
      line1: "1 Market St",
      line2: null,
      city: "San Francisco",
      state: "CA",
      postal_code: "94105",
      country: "US",
    },
    metadata: { tenant: "acme", plan: "pro" },
    source: "tok_visa",
  });
  customer(88, {
    id: C.acmeJohn,
    email: "john.roe@acme.example",
    name: "John Roe",
    phone: "+12125550102",
    address: {
      line1: "200 Park Ave",
      line2: "Floor 3",
      city: "New York",
      state: "NY",
      postal_code: "10166",
      country: "US",
    },
    metadata: { tenant: "acme" },
    source: "tok_mastercard",
  });
  customer(80, {
    id: C.acmeCardFails,
    email: "billing@acme.example",
    name: "Acme Billing",
    phone: "+13125550103",
    address: {
      line1: "77 W Wacker Dr",
      line2: null,
      city: "Chicago",
      state: "IL",
      postal_code: "60601",
      country: "US",
    },
    metadata: { tenant: "acme" },
    source: "tok_chargeCustomerFail",
  });
  customer(85, {
    id: C.globexHank,
    email: "hank.scorpio@globex.example",
    name: "Hank Scorpio",
    phone: "+49305550104",
    address: {
      line1: "Unter den Linden 5",
      line2: null,
      city: "Berlin",
      state: null,
      postal_code: "10117",
      country: "DE",
    },
    metadata: { tenant: "globex" },
    source: "tok_visa",
  });
  customer(70, {
    id: C.globexMarge,
    email: "marge@globex.example",
    name: "Marge Bouvier",
    phone: "+81355550105",
    address: {
      line1: "1-1 Marunouchi",
      line2: null,
      city: "Tokyo",
      state: null,
      postal_code: "100-0005",
      country: "JP",
    },
    metadata: { tenant: "globex" },
    source: "tok_visa",
  });
  customer(60, {
    id: C.noTenant,
    email: "walk.in@example.com",
    name: "Walk In",
    phone: "+15035550106",
    address: {
      line1: "9 Pine St",
      line2: null,
      city: "Portland",
      state: "OR",
      postal_code: "97204",
      country: "US",
    },
    source: "tok_visa",
  });

  const charge = (
    days: number,
    id: string,
    customerId: string,
    amount: number,
    currency: string,
    description: string,
  ) =>
    recordCharge(at(days), {
      id,
      amount,
      currency,
      customer: customerId,
      card: defaultCard(platform, customerId),
      description,
      capture: true,
    });
  charge(30, H.acmeLarge, C.acmeJane, 50_000, "usd", "Annual hardware order");
  charge(20, H.acmeSmallA, C.acmeJane, 5_000, "usd", "Add-on pack");
  charge(15, H.acmeSmallB, C.acmeJane, 5_000, "usd", "Add-on pack");
  charge(10, H.acmeSmallC, C.acmeJane, 5_000, "usd", "Add-on pack");
  const partial = charge(25, H.acmePartiallyRefunded, C.acmeJohn, 4_000, "usd", "Workshop seats");
  const full = charge(24, H.acmeFullyRefunded, C.acmeJohn, 3_000, "usd", "Duplicate order");
  charge(22, H.acmeDisputed, C.acmeJohn, 12_000, "usd", "Consulting hours");
  charge(35, H.acmeInvoicePaid, C.acmeJane, 4_900, "usd", "Payment for Invoice");
  charge(18, H.globexEur, C.globexHank, 7_500, "eur", "Suite add-on");
  charge(12, H.globexJpy, C.globexMarge, 5_000, "jpy", "Starter kit");
  charge(8, H.globexInquiry, C.globexHank, 4_000, "eur", "Training voucher");
  charge(5, H.noTenant, C.noTenant, 2_000, "usd", "Walk-in purchase");

  createRefund(at(23), {
    id: DEMO.refunds.acmePartial,
    charge: partial,
    amount: 1_855,
    reason: "requested_by_customer",
  });
  createRefund(at(23), { id: DEMO.refunds.acmeFull, charge: full, reason: "duplicate" });
  createDispute(at(6), {
    id: DEMO.disputes.acmeNeedsResponse,
    charge: H.acmeDisputed,
    reason: "fraudulent",
    status: "needs_response",
    dueBy: now + 7 * DAY,
  });
  createDispute(at(3), {
    id: DEMO.disputes.globexInquiry,
    charge: H.globexInquiry,
    reason: "product_not_received",
    status: "warning_needs_response",
    dueBy: now + 10 * DAY,
  });

  createPaymentIntent(at(2), {
    id: DEMO.paymentIntents.acmeRequiresCapture,
    amount: 15_000,
    currency: "usd",
    customer: C.acmeJane,
    paymentMethod: "pm_card_visa",
    confirm: true,
    captureMethod: "manual",
    description: "Hotel deposit (authorize now, capture at checkout)",
  });
  createPaymentIntent(at(4), {
    id: DEMO.paymentIntents.acmeSucceeded,
    amount: 6_500,
    currency: "usd",
    customer: C.acmeJohn,
    paymentMethod: "pm_card_mastercard",
    confirm: true,
    captureMethod: "automatic",
    description: "Conference ticket",
  });

  const product = (id: string, name: string) =>
    store.products.insert({
      id,
      account: PLATFORM_ACCOUNT,
      created: now - 120 * DAY,
      name,
      description: null,
      metadata: {},
    });
  const price = (
    id: string,
    productId: string,
    unitAmount: number,
    currency: string,
    interval: "month" | "year",
    nickname: string,
  ) =>
    store.prices.insert({
      id,
      account: PLATFORM_ACCOUNT,
      created: now - 120 * DAY,
      product: productId,
      currency,
      unitAmount,
      interval,
      intervalCount: 1,
      nickname,
      metadata: {},
    });
  product(DEMO.products.acmePro, "Pro plan");
  product(DEMO.products.acmeTeam, "Team seats");
  product(DEMO.products.globexSuite, "Globex Suite");
  price(P.proMonthlyUsd, DEMO.products.acmePro, 4_900, "usd", "month", "Pro monthly");
  price(P.teamSeatMonthlyUsd, DEMO.products.acmeTeam, 1_500, "usd", "month", "Team seat monthly");
  price(P.suiteYearlyEur, DEMO.products.globexSuite, 120_000, "eur", "year", "Suite yearly");

  const S = DEMO.subscriptions;
  const I = DEMO.invoices;
  createSubscription(platform, {
    id: S.acmeJaneMonthly,
    customer: C.acmeJane,
    items: [{ price: P.proMonthlyUsd }],
    startDate: now - 65 * DAY,
    metadata: { tenant: "acme" },
    latestInvoice: I.acmeOpen,
  });
  createSubscription(platform, {
    id: S.acmeJohnSeats,
    customer: C.acmeJohn,
    items: [{ price: P.teamSeatMonthlyUsd, quantity: 5 }],
    startDate: now - 40 * DAY,
    metadata: { tenant: "acme" },
  });
  createSubscription(platform, {
    id: S.globexHankYearly,
    customer: C.globexHank,
    items: [{ price: P.suiteYearlyEur }],
    startDate: now - 200 * DAY,
    metadata: { tenant: "globex" },
    latestInvoice: I.globexOpen,
  });
  const canceled = createSubscription(platform, {
    id: S.acmeCanceled,
    customer: C.acmeCardFails,
    items: [{ price: P.proMonthlyUsd }],
    startDate: now - 100 * DAY,
    metadata: { tenant: "acme" },
  });
  canceled.status = "canceled";
  canceled.canceledAt = now - 10 * DAY;
  canceled.endedAt = now - 10 * DAY;
  canceled.cancellationDetails = {
    comment: null,
    feedback: "too_expensive",
    reason: "cancellation_requested",
  };

  const monthStart = now - 5 * DAY;
  const monthEnd = addInterval(monthStart, "month", 1);
  createInvoice(at(35), {
    id: I.acmePaid,
    customer: C.acmeJane,
    subscription: S.acmeJaneMonthly,
    status: "paid",
    currency: "usd",
    charge: H.acmeInvoicePaid,
    lines: [
      {
        description: "1 × Pro plan (at $49.00 / month)",
        amount: 4_900,
        price: P.proMonthlyUsd,
        periodStart: monthStart - 30 * DAY,
        periodEnd: monthStart,
      },
    ],
  });
  createInvoice(at(5), {
    id: I.acmeOpen,
    customer: C.acmeJane,
    subscription: S.acmeJaneMonthly,
    status: "open",
    currency: "usd",
    dueDate: now + 7 * DAY,
    lines: [
      {
        description: "1 × Pro plan (at $49.00 / month)",
        amount: 4_900,
        price: P.proMonthlyUsd,
        periodStart: monthStart,
        periodEnd: monthEnd,
      },
    ],
  });
  createInvoice(at(4), {
    id: I.acmeCardFails,
    customer: C.acmeCardFails,
    status: "open",
    currency: "usd",
    dueDate: now + 3 * DAY,
    lines: [
      {
        description: "Support retainer",
        amount: 9_900,
        periodStart: monthStart,
        periodEnd: monthEnd,
      },
    ],
  });
  createInvoice(at(3), {
    id: I.globexOpen,
    customer: C.globexHank,
    subscription: S.globexHankYearly,
    status: "open",
    currency: "eur",
    dueDate: now + 14 * DAY,
    lines: [
      {
        description: "1 × Globex Suite (at €1,200.00 / year)",
        amount: 120_000,
        price: P.suiteYearlyEur,
        periodStart: monthStart,
        periodEnd: addInterval(monthStart, "year", 1),
      },
    ],
  });

  const connected = { ...platform, account: DEMO.accounts.connected };
  createCustomer(at(50, connected), {
    id: C.connectedShopper,
    email: "shopper@connected.example",
    name: "Connie Shopper",
    metadata: { tenant: "acme" },
    source: "tok_visa",
  });
  recordCharge(at(9, connected), {
    id: H.connected,
    amount: 4_200,
    currency: "usd",
    customer: C.connectedShopper,
    card: defaultCard(connected, C.connectedShopper),
    description: "Marketplace order",
    capture: true,
  });
}

function defaultCard(ctx: OperationContext, customerId: string) {
  const customer = ctx.store.customers.require(ctx.account, customerId);
  return ctx.store.sources.require(ctx.account, customer.defaultSource ?? "");
}
