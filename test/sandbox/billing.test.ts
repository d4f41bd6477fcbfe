import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { rejection, sandbox, stripeFor } from "./helpers.js";

const NOW = Date.UTC(2031, 4, 15, 12, 0, 0);
const nowSeconds = NOW / 1000;

describe("subscriptions", () => {
  it("carries items with prices, quantities and their current period", async () => {
    const box = await sandbox({ clock: () => NOW });
    const subscription = await stripeFor(box).subscriptions.retrieve(
      DEMO.subscriptions.acmeJohnSeats,
      {
        expand: ["customer"],
      },
    );
    expect(subscription).toMatchObject({
      object: "subscription",
      status: "active",
      currency: "usd",
      cancel_at_period_end: false,
      cancel_at: null,
      customer: { id: DEMO.customers.acmeJohn, object: "customer" },
    });
    const [item] = subscription.items.data;
    expect(item).toMatchObject({
      object: "subscription_item",
      quantity: 5,
      subscription: subscription.id,
      price: {
        id: DEMO.prices.teamSeatMonthlyUsd,
        unit_amount: 1_500,
        currency: "usd",
        recurring: { interval: "month", interval_count: 1 },
      },
    });
    expect(item?.current_period_start).toBeLessThanOrEqual(nowSeconds);
    expect(item?.current_period_end).toBeGreaterThan(nowSeconds);
    expect(subscription).not.toHaveProperty("current_period_end");
    const yearly = await stripeFor(box).subscriptions.retrieve(DEMO.subscriptions.globexHankYearly);
    expect(yearly.items.data[0]?.price.recurring).toMatchObject({ interval: "year" });
  });

  it("cancels at period end: still active, cancel_at set to the period's end; and back", async () => {
    const box = await sandbox({ clock: () => NOW });
    const stripe = stripeFor(box);
    const scheduled = await stripe.subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
      cancel_at_period_end: true,
    });
    expect(scheduled).toMatchObject({
      status: "active",
      cancel_at_period_end: true,
      cancel_at: scheduled.items.data[0]?.current_period_end,
      canceled_at: null,
      cancellation_details: { reason: "cancellation_requested" },
    });
    const resumed = await stripe.subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
      cancel_at_period_end: false,
    });
    expect(resumed).toMatchObject({
      status: "active",
      cancel_at_period_end: false,
      cancel_at: null,
    });
  });

  it("cancels now with DELETE: canceled, canceled_at and ended_at now", async () => {
    const box = await sandbox({ clock: () => NOW });
    const stripe = stripeFor(box);
    const canceled = await stripe.subscriptions.cancel(DEMO.subscriptions.acmeJaneMonthly, {
      cancellation_details: { comment: "moving to a competitor", feedback: "switched_service" },
    });
    expect(canceled).toMatchObject({
      status: "canceled",
      canceled_at: nowSeconds,
      ended_at: nowSeconds,
      cancellation_details: {
        comment: "moving to a competitor",
        feedback: "switched_service",
        reason: "cancellation_requested",
      },
    });
    expect((await stripe.subscriptions.retrieve(canceled.id)).status).toBe("canceled");
    const twice = await rejection(stripe.subscriptions.cancel(canceled.id));
    expect(twice).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: `No such subscription: '${canceled.id}'`,
    });
    const update = await rejection(
      stripe.subscriptions.update(canceled.id, { cancel_at_period_end: true }),
    );
    expect(update).toMatchObject({
      statusCode: 400,
      message: "A canceled subscription can only update its cancellation_details and metadata.",
    });
    await expect(
      stripe.subscriptions.update(canceled.id, { metadata: { note: "gone" } }),
    ).resolves.toMatchObject({
      metadata: { tenant: "acme", note: "gone" },
    });
  });

  it("refuses bad parameters", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const both = await rejection(
      stripe.subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
        cancel_at_period_end: true,
        cancel_at: 2_000_000_000,
      }),
    );
    expect(both).toMatchObject({ code: "parameters_exclusive" });
    const flag = await rejection(
      stripe.subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
        cancel_at_period_end: "soon" as unknown as boolean,
      }),
    );
    expect(flag).toMatchObject({
      statusCode: 400,
      param: "cancel_at_period_end",
      message: "Invalid boolean: soon",
    });
    const missing = await rejection(stripe.subscriptions.retrieve("sub_nope"));
    expect(missing.message).toBe("No such subscription: 'sub_nope'");
  });
});

describe("invoices", () => {
  it("pays an open invoice by charging the customer's card", async () => {
    const box = await sandbox({ clock: () => NOW });
    const stripe = stripeFor(box);
    const open = await stripe.invoices.retrieve(DEMO.invoices.acmeOpen, { expand: ["customer"] });
    expect(open).toMatchObject({
      status: "open",
      amount_due: 4_900,
      amount_paid: 0,
      amount_remaining: 4_900,
      attempt_count: 0,
    });
    expect((open.customer as Stripe.Customer).id).toBe(DEMO.customers.acmeJane);
    expect(open.number).toMatch(/^[0-9A-F]{8}-\d{4}$/);

    const chargesBefore = (
      await stripe.charges.list({ customer: DEMO.customers.acmeJane, limit: 100 })
    ).data.length;
    const paid = await stripe.invoices.pay(DEMO.invoices.acmeOpen);
    expect(paid).toMatchObject({
      status: "paid",
      amount_paid: 4_900,
      amount_remaining: 0,
      attempted: true,
      attempt_count: 1,
      status_transitions: { paid_at: nowSeconds },
    });
    const charges = (await stripe.charges.list({ customer: DEMO.customers.acmeJane, limit: 100 }))
      .data;
    expect(charges).toHaveLength(chargesBefore + 1);
    expect(charges[0]).toMatchObject({ amount: 4_900, currency: "usd", captured: true });

    const again = await rejection(stripe.invoices.pay(DEMO.invoices.acmeOpen));
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({
      statusCode: 400,
      code: "invoice_already_paid",
      message: "Invoice is already paid",
    });
  });

  it("leaves the invoice open when the card declines", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const error = await rejection(stripe.invoices.pay(DEMO.invoices.acmeCardFails));
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({
      statusCode: 402,
      code: "card_declined",
      decline_code: "generic_decline",
    });
    const invoice = await stripe.invoices.retrieve(DEMO.invoices.acmeCardFails);
    expect(invoice).toMatchObject({
      status: "open",
      amount_paid: 0,
      attempt_count: 1,
      attempted: true,
    });
    const customer = (await stripe.customers.retrieve(
      DEMO.customers.acmeCardFails,
    )) as Stripe.Customer;
    expect(customer.delinquent).toBe(true);
  });

  it("marks an invoice paid out of band without charging", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const before = (await stripe.charges.list({ limit: 100 })).data.length;
    const paid = await stripe.invoices.pay(DEMO.invoices.acmeCardFails, { paid_out_of_band: true });
    expect(paid).toMatchObject({ status: "paid", amount_paid: 9_900 });
    expect((await stripe.charges.list({ limit: 100 })).data).toHaveLength(before);
  });

  it("answers 404 for an unknown invoice", async () => {
    const box = await sandbox();
    const error = await rejection(stripeFor(box).invoices.pay("in_nope"));
    expect(error).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      message: "No such invoice: 'in_nope'",
    });
  });
});

describe("disputes", () => {
  it("saves evidence, then submits it: under_review, with the submission counted", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const saved = await stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, {
      evidence: {
        customer_name: "John Roe",
        uncategorized_text: "Signed delivery receipt on file.",
      },
    });
    expect(saved).toMatchObject({
      status: "needs_response",
      evidence: {
        customer_name: "John Roe",
        uncategorized_text: "Signed delivery receipt on file.",
        receipt: null,
      },
      evidence_details: { has_evidence: true, submission_count: 0 },
    });
    const submitted = await stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, {
      evidence: { product_description: "Consulting hours" },
      submit: true,
      expand: ["charge.customer"],
    });
    expect(submitted).toMatchObject({
      status: "under_review",
      evidence: { customer_name: "John Roe", product_description: "Consulting hours" },
      evidence_details: { submission_count: 1 },
    });
    expect(((submitted.charge as Stripe.Charge).customer as Stripe.Customer).id).toBe(
      DEMO.customers.acmeJohn,
    );

    const late = await rejection(
      stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, { submit: true }),
    );
    expect(late).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(late.statusCode).toBe(400);
  });

  it("moves an inquiry to warning_under_review", async () => {
    const box = await sandbox();
    const dispute = await stripeFor(box).disputes.update(DEMO.disputes.globexInquiry, {
      evidence: { refund_refusal_explanation: "Voucher was redeemed." },
      submit: true,
    });
    expect(dispute.status).toBe("warning_under_review");
  });

  it("shows a disputed charge as disputed", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    expect((await stripe.charges.retrieve(DEMO.charges.acmeDisputed)).disputed).toBe(true);
    const dispute = await stripe.disputes.retrieve(DEMO.disputes.acmeNeedsResponse);
    expect(dispute).toMatchObject({
      amount: 12_000,
      currency: "usd",
      reason: "fraudulent",
      charge: DEMO.charges.acmeDisputed,
    });
  });

  it("refuses evidence fields Stripe does not have and files it does not know", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const unknown = await rejection(
      stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, {
        evidence: { mood: "angry" } as Stripe.DisputeUpdateParams.Evidence,
      }),
    );
    expect(unknown).toMatchObject({
      code: "parameter_unknown",
      param: "evidence[mood]",
      message: "Received unknown parameter: evidence[mood]",
    });
    const file = await rejection(
      stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, {
        evidence: { receipt: "receipt.pdf" },
      }),
    );
    expect(file).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "evidence[receipt]",
    });
  });
});
