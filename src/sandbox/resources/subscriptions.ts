import { invalidRequest, resourceMissing } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listObject, listPage, readPage } from "../list.js";
import { applyMetadata, type Params } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type {
  CancellationDetails,
  Metadata,
  PriceRecord,
  Store,
  SubscriptionRecord,
  SubscriptionStatus,
} from "../store.js";
import { renderPlan, renderPrice } from "./catalog.js";

const LIST_STATUSES = [
  "active",
  "all",
  "canceled",
  "ended",
  "incomplete",
  "incomplete_expired",
  "past_due",
  "paused",
  "trialing",
  "unpaid",
] as const;

const FEEDBACK = [
  "customer_service",
  "low_quality",
  "missing_features",
  "other",
  "switched_service",
  "too_complex",
  "too_expensive",
  "unused",
] as const;

/** `start` moved by `count` intervals, on the calendar (a month is not 30 days). */
export function addInterval(
  start: number,
  interval: PriceRecord["interval"],
  count: number,
): number {
  const date = new Date(start * 1000);
  if (interval === "day") date.setUTCDate(date.getUTCDate() + count);
  if (interval === "week") date.setUTCDate(date.getUTCDate() + 7 * count);
  if (interval === "month") date.setUTCMonth(date.getUTCMonth() + count);
  if (interval === "year") date.setUTCFullYear(date.getUTCFullYear() + count);
  return Math.floor(date.getTime() / 1000);
}

export interface SubscriptionInput {
  id?: string;
  customer: string;
  items: { id?: string; price: string; quantity?: number }[];
  /** When billing started; the current period is the one containing now. */
  startDate: number;
  status?: SubscriptionStatus;
  description?: string | null;
  metadata?: Metadata;
  latestInvoice?: string | null;
}

export function createSubscription(
  ctx: OperationContext,
  input: SubscriptionInput,
): SubscriptionRecord {
  const id = input.id ?? ctx.newId("sub");
  const items = input.items.map((item) => {
    const price = ctx.store.prices.require(ctx.account, item.price, "price");
    let start = input.startDate;
    let end = addInterval(start, price.interval, price.intervalCount);
    while (end <= ctx.now) {
      start = end;
      end = addInterval(start, price.interval, price.intervalCount);
    }
    return {
      id: item.id ?? ctx.newId("si"),
      created: input.startDate,
      price: price.id,
      quantity: item.quantity ?? 1,
      currentPeriodStart: start,
      currentPeriodEnd: end,
    };
  });
  return ctx.store.subscriptions.insert({
    id,
    account: ctx.account,
    created: input.startDate,
    customer: ctx.store.customers.require(ctx.account, input.customer, "customer").id,
    status: input.status ?? "active",
    items,
    startDate: input.startDate,
    cancelAtPeriodEnd: false,
    cancelAt: null,
    canceledAt: null,
    endedAt: null,
    cancellationDetails: { comment: null, feedback: null, reason: null },
    description: input.description ?? null,
    latestInvoice: input.latestInvoice ?? null,
    metadata: input.metadata ?? {},
  });
}

function periodEnd(subscription: SubscriptionRecord): number {
  return Math.max(...subscription.items.map((item) => item.currentPeriodEnd));
}

function pricesOf(store: Store, subscription: SubscriptionRecord): PriceRecord[] {
  return subscription.items.map((item) => store.prices.require(subscription.account, item.price));
}

export function renderSubscription(store: Store, subscription: SubscriptionRecord): JsonObject {
  const prices = pricesOf(store, subscription);
  const items = subscription.items.map((item, i) => {
    const price = prices[i] as PriceRecord;
    return {
      id: item.id,
      object: "subscription_item",
      billing_thresholds: null,
      created: item.created,
      current_period_end: item.currentPeriodEnd,
      current_period_start: item.currentPeriodStart,
      discounts: [],
      metadata: {},
      plan: renderPlan(price),
      price: renderPrice(store, price),
      quantity: item.quantity,
      subscription: subscription.id,
      tax_rates: [],
    };
  });
  return {
    id: subscription.id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: subscription.startDate,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: subscription.cancelAt,
    cancel_at_period_end: subscription.cancelAtPeriodEnd,
    canceled_at: subscription.canceledAt,
    cancellation_details: { ...subscription.cancellationDetails },
    collection_method: "charge_automatically",
    created: subscription.created,
    currency: prices[0]?.currency ?? "usd",
    customer: subscription.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: subscription.description,
    discounts: [],
    ended_at: subscription.endedAt,
    invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
    items: listObject(items, false, `/v1/subscription_items?subscription=${subscription.id}`),
    latest_invoice: subscription.latestInvoice,
    livemode: false,
    managed_payments: null,
    metadata: { ...subscription.metadata },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: subscription.startDate,
    status: subscription.status,
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
    trial_start: null,
  };
}

function readCancellationDetails(params: Params) {
  const details = params.fields("cancellation_details", ["comment", "feedback"]);
  const feedback = details?.feedback;
  if (feedback && !(FEEDBACK as readonly string[]).includes(feedback)) {
    throw invalidRequest(
      `Invalid cancellation_details[feedback]: must be one of ${FEEDBACK.join(", ")}`,
      {
        code: "parameter_invalid_string",
        param: "cancellation_details[feedback]",
      },
    );
  }
  return details;
}

function applyCancellationDetails(
  current: CancellationDetails,
  details: ReturnType<typeof readCancellationDetails>,
): CancellationDetails {
  if (details === undefined) return current;
  if (details === null) return { ...current, comment: null, feedback: null };
  return {
    ...current,
    ...(details.comment !== undefined ? { comment: details.comment } : {}),
    ...(details.feedback !== undefined ? { feedback: details.feedback } : {}),
  };
}

function matchesStatus(
  status: SubscriptionStatus,
  filter: (typeof LIST_STATUSES)[number] | undefined,
) {
  if (filter === undefined) return status !== "canceled" && status !== "incomplete_expired";
  if (filter === "all") return true;
  if (filter === "ended") return status === "canceled" || status === "incomplete_expired";
  return status === filter;
}

export const subscriptionRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/subscriptions",
    permission: { resource: "subscriptions", access: "read" },
    returns: { list: "subscription" },
    params: [...LIST_PARAMS, "customer", "status", "price"],
    validate(req) {
      const page = readPage(req.params);
      const customer = req.params.string("customer");
      const status = req.params.choice("status", LIST_STATUSES);
      const price = req.params.string("price");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.subscriptions,
          matching: (s) =>
            (customer === undefined || s.customer === customer) &&
            (price === undefined || s.items.some((item) => item.price === price)) &&
            matchesStatus(s.status, status),
          page,
          url: "/v1/subscriptions",
          render: (s) => renderSubscription(req.store, s),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/subscriptions/:id",
    permission: { resource: "subscriptions", access: "read" },
    returns: "subscription",
    params: [],
    validate: (req) => () =>
      renderSubscription(req.store, req.store.subscriptions.require(req.account, req.id)),
  },
  {
    method: "POST",
    path: "/v1/subscriptions/:id",
    permission: { resource: "subscriptions", access: "write" },
    returns: "subscription",
    params: [
      "cancel_at_period_end",
      "cancel_at",
      "cancellation_details",
      "description",
      "metadata",
    ],
    validate(req) {
      const { params } = req;
      const atPeriodEnd = params.boolean("cancel_at_period_end");
      // `cancel_at=` (empty) unsets a scheduled cancellation.
      const cancelAt =
        params.nullableString("cancel_at") === null ? null : params.integer("cancel_at");
      if (atPeriodEnd !== undefined && cancelAt !== undefined) {
        throw invalidRequest(
          "You may only specify one of these parameters: cancel_at, cancel_at_period_end.",
          {
            code: "parameters_exclusive",
            param: "cancel_at",
          },
        );
      }
      const details = readCancellationDetails(params);
      const description = params.nullableString("description");
      const metadata = params.metadata();
      return () => {
        const subscription = req.store.subscriptions.require(req.account, req.id);
        if (
          subscription.status === "canceled" &&
          (atPeriodEnd !== undefined || cancelAt !== undefined || description !== undefined)
        ) {
          throw invalidRequest(
            "A canceled subscription can only update its cancellation_details and metadata.",
            { param: "subscription" },
          );
        }
        if (atPeriodEnd !== undefined || cancelAt !== undefined) {
          const scheduled = atPeriodEnd === true ? periodEnd(subscription) : (cancelAt ?? null);
          subscription.cancelAtPeriodEnd = atPeriodEnd === true;
          subscription.cancelAt = scheduled;
          subscription.cancellationDetails.reason =
            scheduled === null ? null : "cancellation_requested";
        }
        subscription.cancellationDetails = applyCancellationDetails(
          subscription.cancellationDetails,
          details,
        );
        if (description !== undefined) subscription.description = description;
        subscription.metadata = applyMetadata(subscription.metadata, metadata);
        return renderSubscription(req.store, subscription);
      };
    },
  },
  {
    method: "DELETE",
    path: "/v1/subscriptions/:id",
    permission: { resource: "subscriptions", access: "write" },
    returns: "subscription",
    params: ["cancellation_details", "invoice_now", "prorate"],
    validate(req) {
      const details = readCancellationDetails(req.params);
      // Accepted as Stripe does; the sandbox bills nothing on cancel, so they change nothing.
      req.params.boolean("invoice_now");
      req.params.boolean("prorate");
      return () => {
        const subscription = req.store.subscriptions.require(req.account, req.id);
        // Stripe answers a second cancel as if the subscription were gone.
        if (subscription.status === "canceled")
          throw resourceMissing("subscription", subscription.id);
        subscription.status = "canceled";
        subscription.canceledAt = req.now;
        subscription.endedAt = req.now;
        subscription.cancelAtPeriodEnd = false;
        subscription.cancellationDetails = applyCancellationDetails(
          { ...subscription.cancellationDetails, reason: "cancellation_requested" },
          details,
        );
        return renderSubscription(req.store, subscription);
      };
    },
  },
];
