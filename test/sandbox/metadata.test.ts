import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO, type Sandbox } from "../../src/sandbox/index.js";
import { raw, rejection, sandbox, stripeFor } from "./helpers.js";

/** What spendguard stamps on each write, so the outcome can be found by reading Stripe. */
const STAMP = { spendguard_admission: "adm_42" };

function send(box: Sandbox, method: string, path: string, body: string, key = "k-meta") {
  return raw(box, path, {
    method,
    headers: {
      authorization: `Bearer ${box.keys.admin}`,
      "content-type": "application/x-www-form-urlencoded",
      "idempotency-key": key,
    },
    ...(method === "POST" ? { body } : {}),
  });
}

describe("metadata on the writes spendguard makes", () => {
  it("a refund keeps it: the refund, the lists by charge and by payment intent all return it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const byCharge = await stripe.refunds.create({
      charge: DEMO.charges.acmeLarge,
      amount: 2_500,
      metadata: STAMP,
    });
    expect(byCharge.metadata).toEqual(STAMP);
    expect((await stripe.refunds.retrieve(byCharge.id)).metadata).toEqual(STAMP);
    const listed = await stripe.refunds.list({ charge: DEMO.charges.acmeLarge });
    expect(listed.data.map((r) => [r.id, r.metadata])).toEqual([[byCharge.id, STAMP]]);

    // Refunded by charge or by payment intent, Stripe links the refund to both.
    const intent = await stripe.paymentIntents.retrieve(DEMO.paymentIntents.acmeSucceeded);
    const viaCharge = await stripe.refunds.create({
      charge: intent.latest_charge as string,
      amount: 100,
      metadata: { spendguard_admission: "adm_43" },
    });
    const viaIntent = await stripe.refunds.create({
      payment_intent: intent.id,
      amount: 200,
      metadata: { spendguard_admission: "adm_44" },
    });
    const ofIntent = await stripe.refunds.list({ payment_intent: intent.id });
    expect(ofIntent.data.map((r) => [r.id, r.metadata?.spendguard_admission])).toEqual([
      [viaIntent.id, "adm_44"],
      [viaCharge.id, "adm_43"],
    ]);
    const both = await stripe.refunds.list({
      charge: intent.latest_charge as string,
      payment_intent: intent.id,
    });
    expect(both.data).toHaveLength(2);
    const other = await stripe.refunds.list({
      charge: DEMO.charges.acmeLarge,
      payment_intent: intent.id,
    });
    expect(other.data).toEqual([]);
  });

  it("a capture merges it into the payment intent's metadata; retrieve returns it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const before = await stripe.paymentIntents.retrieve(DEMO.paymentIntents.acmeRequiresCapture);
    const captured = await stripe.paymentIntents.capture(before.id, { metadata: STAMP });
    expect(captured.metadata).toEqual({ ...before.metadata, ...STAMP });
    expect((await stripe.paymentIntents.retrieve(before.id)).metadata).toEqual(captured.metadata);
  });

  it("a subscription update and a dispute update keep it; retrieve and list return it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const subscription = await stripe.subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
      cancel_at_period_end: true,
      metadata: STAMP,
    });
    expect(subscription.metadata).toMatchObject(STAMP);
    expect((await stripe.subscriptions.retrieve(subscription.id)).metadata).toMatchObject(STAMP);
    const subscriptions = await stripe.subscriptions.list({ customer: DEMO.customers.acmeJane });
    expect(subscriptions.data.find((s) => s.id === subscription.id)?.metadata).toMatchObject(STAMP);

    const dispute = await stripe.disputes.update(DEMO.disputes.acmeNeedsResponse, {
      evidence: { uncategorized_text: "delivered" },
      metadata: STAMP,
    });
    expect(dispute.metadata).toMatchObject(STAMP);
    expect((await stripe.disputes.retrieve(dispute.id)).metadata).toMatchObject(STAMP);
    const disputes = await stripe.disputes.list({ charge: DEMO.charges.acmeDisputed });
    expect(disputes.data.map((d) => d.metadata)).toEqual([dispute.metadata]);
  });

  it("a charge keeps it; retrieve returns it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const charge = await stripe.charges.create({
      amount: 1_000,
      currency: "usd",
      customer: DEMO.customers.acmeJane,
      metadata: STAMP,
    });
    expect((await stripe.charges.retrieve(charge.id)).metadata).toEqual(STAMP);
  });
});

describe("metadata where Stripe takes none", () => {
  it.each([
    ["POST", `/v1/invoices/${DEMO.invoices.acmeOpen}/pay`],
    ["DELETE", `/v1/subscriptions/${DEMO.subscriptions.acmeJaneMonthly}`],
  ])(
    "%s %s refuses it as Stripe refuses an unknown parameter, and applies nothing",
    async (method, path) => {
      const box = await sandbox();
      const query = "metadata[spendguard_admission]=adm_42";
      const refused = await send(box, method, method === "POST" ? path : `${path}?${query}`, query);
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({
        error: {
          code: "parameter_unknown",
          doc_url: "https://stripe.com/docs/error-codes/parameter-unknown",
          message: "Received unknown parameter: metadata",
          param: "metadata",
          request_log_url: expect.stringMatching(
            /^https:\/\/dashboard\.stripe\.com\/test\/logs\/req_/,
          ),
          type: "invalid_request_error",
        },
      });
      const stripe = stripeFor(box);
      expect((await stripe.invoices.retrieve(DEMO.invoices.acmeOpen)).status).toBe("open");
      expect((await stripe.subscriptions.retrieve(DEMO.subscriptions.acmeJaneMonthly)).status).toBe(
        "active",
      );
      // Refused before it executed, so the key saved nothing: the same key without metadata works.
      const retried = await send(box, method, path, "");
      expect(retried.status).toBe(200);
      expect(retried.headers.get("idempotent-replayed")).toBeNull();
    },
  );

  it("the SDK surfaces it as an invalid request naming the parameter", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const error = await rejection(
      stripe.invoices.pay(DEMO.invoices.acmeOpen, {
        metadata: STAMP,
      } as Stripe.InvoicePayParams),
    );
    expect(error).toMatchObject({ statusCode: 400, code: "parameter_unknown", param: "metadata" });
  });
});
