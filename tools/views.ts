import type Stripe from "stripe";
import { z } from "zod";
import { formatMoney } from "../src/money/currency.js";
import { maskEmail, maskName, maskPhone } from "../src/policy/pii.js";
import { isoTime, type MoneyView, moneyView } from "./schemas.js";

/**
 * What the agent sees of Stripe's objects: what a task needs (ids, money with currency,
 * status, dates), not the whole object. Each view has its zod schema (the tools'
 * `outputSchema`) and the function that builds it.
 */

export function money(amount: number, currency: string): MoneyView {
  return { amount, currency, display: formatMoney(amount, currency) };
}

export function isoFromUnix(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** The id of a linked object, whether Stripe sent the id or the expanded object. */
export function idOf(ref: string | { id: string } | null | undefined): string | null {
  if (ref == null) return null;
  return typeof ref === "string" ? ref : ref.id;
}

// ── customer ────────────────────────────────────────────────────────────────

export const customerView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  address_country: z.string().nullable().describe("Only the country of the address is shown."),
  metadata: z.record(z.string(), z.string()),
  created: isoTime,
  pii: z.enum(["masked", "revealed"]),
});

export function viewCustomer(
  customer: Stripe.Customer,
  pii: "mask" | "reveal",
): z.infer<typeof customerView> {
  const reveal = pii === "reveal";
  const { name, email, phone } = customer;
  return {
    id: customer.id,
    name: name ? (reveal ? name : maskName(name)) : null,
    email: email ? (reveal ? email : maskEmail(email)) : null,
    phone: phone ? (reveal ? phone : maskPhone(customer.address?.country)) : null,
    address_country: customer.address?.country ?? null,
    metadata: customer.metadata,
    created: isoFromUnix(customer.created),
    pii: reveal ? "revealed" : "masked",
  };
}

// ── charge ──────────────────────────────────────────────────────────────────

export const chargeView = z.object({
  id: z.string(),
  amount: moneyView,
  amount_refunded: moneyView,
  refundable: moneyView.describe("What can still be refunded."),
  status: z.string(),
  paid: z.boolean(),
  refunded: z.boolean().describe("True only when fully refunded."),
  disputed: z.boolean(),
  customer: z.string().nullable(),
  payment_intent: z.string().nullable(),
  description: z.string().nullable(),
  created: isoTime,
});

export function refundableAmount(charge: Stripe.Charge): number {
  return Math.max(0, charge.amount_captured - charge.amount_refunded);
}

export function viewCharge(charge: Stripe.Charge): z.infer<typeof chargeView> {
  return {
    id: charge.id,
    amount: money(charge.amount, charge.currency),
    amount_refunded: money(charge.amount_refunded, charge.currency),
    refundable: money(refundableAmount(charge), charge.currency),
    status: charge.status,
    paid: charge.paid,
    refunded: charge.refunded,
    disputed: charge.disputed,
    customer: idOf(charge.customer),
    payment_intent: idOf(charge.payment_intent),
    description: charge.description,
    created: isoFromUnix(charge.created),
  };
}

// ── payment intent ──────────────────────────────────────────────────────────

export const paymentIntentView = z.object({
  id: z.string(),
  amount: moneyView,
  amount_capturable: moneyView,
  amount_received: moneyView,
  status: z.string(),
  capture_method: z.string(),
  customer: z.string().nullable(),
  latest_charge: z.string().nullable(),
  description: z.string().nullable(),
  created: isoTime,
});

export function viewPaymentIntent(intent: Stripe.PaymentIntent): z.infer<typeof paymentIntentView> {
  return {
    id: intent.id,
    amount: money(intent.amount, intent.currency),
    amount_capturable: money(intent.amount_capturable, intent.currency),
    amount_received: money(intent.amount_received, intent.currency),
    status: intent.status,
    capture_method: intent.capture_method,
    customer: idOf(intent.customer),
    latest_charge: idOf(intent.latest_charge),
    description: intent.description,
    created: isoFromUnix(intent.created),
  };
}

// ── refund ──────────────────────────────────────────────────────────────────

export const refundView = z.object({
  id: z.string(),
  amount: moneyView,
  status: z.string().nullable(),
  reason: z.string().nullable(),
  charge: z.string().nullable(),
  payment_intent: z.string().nullable(),
  created: isoTime,
});

export function viewRefund(refund: Stripe.Refund): z.infer<typeof refundView> {
  return {
    id: refund.id,
    amount: money(refund.amount, refund.currency),
    status: refund.status,
    reason: refund.reason,
    charge: idOf(refund.charge),
    payment_intent: idOf(refund.payment_intent),
    created: isoFromUnix(refund.created),
  };
}

// ── subscription ────────────────────────────────────────────────────────────

const MONTHS_PER_INTERVAL: Record<string, number> = {
  day: 12 / 365,
  week: 12 / 52,
  month: 1,
  year: 12,
};

/**
 * Monthly recurring revenue of a subscription in its currency's minor unit, rounded up:
 * what cancelling it puts at risk each month.
 */
export function monthlyRevenue(subscription: Stripe.Subscription): number {
  let total = 0;
  for (const item of subscription.items.data) {
    const { unit_amount, recurring } = item.price;
    if (unit_amount == null || recurring == null) continue;
    // An interval Stripe adds later counts as monthly: better to over-state revenue at risk.
    const months = (MONTHS_PER_INTERVAL[recurring.interval] ?? 1) * recurring.interval_count;
    total += (unit_amount * (item.quantity ?? 1)) / months;
  }
  return Math.ceil(total);
}

export const subscriptionView = z.object({
  id: z.string(),
  customer: z.string(),
  status: z.string(),
  cancel_at_period_end: z.boolean(),
  cancel_at: isoTime.nullable(),
  canceled_at: isoTime.nullable(),
  current_period_end: isoTime.nullable(),
  monthly_revenue: moneyView.describe("Recurring revenue per month across all items."),
  items: z.array(
    z.object({
      price: z.string(),
      unit_amount: moneyView.nullable(),
      interval: z.string().nullable(),
      interval_count: z.number().nullable(),
      quantity: z.number().nullable(),
    }),
  ),
  created: isoTime,
});

export function viewSubscription(
  subscription: Stripe.Subscription,
): z.infer<typeof subscriptionView> {
  const { currency } = subscription;
  const periodEnds = subscription.items.data.map((item) => item.current_period_end);
  return {
    id: subscription.id,
    customer: idOf(subscription.customer) ?? "",
    status: subscription.status,
    cancel_at_period_end: subscription.cancel_at_period_end,
    cancel_at: subscription.cancel_at ? isoFromUnix(subscription.cancel_at) : null,
    canceled_at: subscription.canceled_at ? isoFromUnix(subscription.canceled_at) : null,
    current_period_end: periodEnds.length > 0 ? isoFromUnix(Math.max(...periodEnds)) : null,
    monthly_revenue: money(monthlyRevenue(subscription), currency),
    items: subscription.items.data.map((item) => ({
      price: item.price.id,
      unit_amount: item.price.unit_amount == null ? null : money(item.price.unit_amount, currency),
      interval: item.price.recurring?.interval ?? null,
      interval_count: item.price.recurring?.interval_count ?? null,
      quantity: item.quantity ?? null,
    })),
    created: isoFromUnix(subscription.created),
  };
}

// ── invoice ─────────────────────────────────────────────────────────────────

export const invoiceView = z.object({
  id: z.string(),
  number: z.string().nullable(),
  customer: z.string().nullable(),
  status: z.string().nullable(),
  amount_due: moneyView,
  amount_paid: moneyView,
  amount_remaining: moneyView,
  attempt_count: z.number(),
  due_date: isoTime.nullable(),
  created: isoTime,
});

export function viewInvoice(invoice: Stripe.Invoice): z.infer<typeof invoiceView> {
  const { currency } = invoice;
  return {
    id: invoice.id ?? "",
    number: invoice.number,
    customer: idOf(invoice.customer),
    status: invoice.status,
    amount_due: money(invoice.amount_due, currency),
    amount_paid: money(invoice.amount_paid, currency),
    amount_remaining: money(invoice.amount_remaining, currency),
    attempt_count: invoice.attempt_count,
    due_date: invoice.due_date ? isoFromUnix(invoice.due_date) : null,
    created: isoFromUnix(invoice.created),
  };
}

// ── dispute ─────────────────────────────────────────────────────────────────

export const disputeView = z.object({
  id: z.string(),
  amount: moneyView,
  status: z.string(),
  reason: z.string(),
  charge: z.string(),
  evidence_due_by: isoTime.nullable(),
  evidence_submitted: z.boolean(),
  created: isoTime,
});

export function viewDispute(dispute: Stripe.Dispute): z.infer<typeof disputeView> {
  const dueBy = dispute.evidence_details?.due_by;
  return {
    id: dispute.id,
    amount: money(dispute.amount, dispute.currency),
    status: dispute.status,
    reason: dispute.reason,
    charge: idOf(dispute.charge) ?? "",
    evidence_due_by: dueBy ? isoFromUnix(dueBy) : null,
    evidence_submitted: (dispute.evidence_details?.submission_count ?? 0) > 0,
    created: isoFromUnix(dispute.created),
  };
}
