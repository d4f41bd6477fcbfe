import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { raw, rejection, sandbox, stripeFor } from "./helpers.js";

const refundsOf = async (stripe: Stripe, charge: string) =>
  (await stripe.refunds.list({ charge, limit: 100 })).data;

describe("idempotency", () => {
  it("replays the first response for the same key and parameters, and applies nothing twice", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const params = { charge: DEMO.charges.acmeLarge, amount: 2_500 };
    const first = await stripe.refunds.create(params, { idempotencyKey: "refund-once" });
    const second = await stripe.refunds.create(params, { idempotencyKey: "refund-once" });
    expect(second).toEqual(first);
    expect(first.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
    expect(second.lastResponse.headers["idempotent-replayed"]).toBe("true");
    // Stripe gives a replay its own request id and points at the original.
    expect(second.lastResponse.requestId).not.toBe(first.lastResponse.requestId);
    expect(second.lastResponse.headers["original-request"]).toBe(first.lastResponse.requestId);
    expect(await refundsOf(stripe, DEMO.charges.acmeLarge)).toHaveLength(1);
  });

  it("replays byte for byte", async () => {
    const box = await sandbox();
    const send = () =>
      raw(box, "/v1/refunds", {
        method: "POST",
        headers: {
          authorization: `Bearer ${box.keys.admin}`,
          "content-type": "application/x-www-form-urlencoded",
          "idempotency-key": "bytes",
        },
        body: `charge=${DEMO.charges.acmeLarge}&amount=100&metadata[a]=1&metadata[b]=2`,
      });
    const first = await send();
    const second = await send();
    expect(second.status).toBe(first.status);
    expect(second.text).toBe(first.text);
    // Parameter order is not part of "the same parameters".
    const reordered = await raw(box, "/v1/refunds", {
      method: "POST",
      headers: {
        authorization: `Bearer ${box.keys.admin}`,
        "content-type": "application/x-www-form-urlencoded",
        "idempotency-key": "bytes",
      },
      body: `metadata[b]=2&amount=100&metadata[a]=1&charge=${DEMO.charges.acmeLarge}`,
    });
    expect(reordered.text).toBe(first.text);
    expect(reordered.headers.get("idempotent-replayed")).toBe("true");
  });

  it("refuses the same key with other parameters or on another endpoint", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    await stripe.refunds.create(
      { charge: DEMO.charges.acmeLarge, amount: 2_500 },
      { idempotencyKey: "k-1" },
    );
    const other = await rejection(
      stripe.refunds.create(
        { charge: DEMO.charges.acmeLarge, amount: 2_600 },
        { idempotencyKey: "k-1" },
      ),
    );
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(other.statusCode).toBe(400);
    expect(other.rawType).toBe("idempotency_error");
    expect(other.message).toBe(
      "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'k-1' if you meant to execute a different request.",
    );
    const elsewhere = await rejection(
      stripe.customers.create({ email: "a@example.com" }, { idempotencyKey: "k-1" }),
    );
    expect(elsewhere).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(elsewhere.message).toContain("can only be used for the same endpoint");
    expect(await refundsOf(stripe, DEMO.charges.acmeLarge)).toHaveLength(1);
  });

  it("replays errors from execution too", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const params = { charge: DEMO.charges.acmePartiallyRefunded, amount: 2_500 };
    const first = await rejection(stripe.refunds.create(params, { idempotencyKey: "too-much" }));
    const second = await rejection(stripe.refunds.create(params, { idempotencyKey: "too-much" }));
    expect(second.message).toBe(first.message);
    expect(second.headers?.["idempotent-replayed"]).toBe("true");
    const declined = await rejection(
      stripe.charges.create(
        { amount: 5_000, currency: "usd", source: "tok_chargeDeclined" },
        { idempotencyKey: "decline" },
      ),
    );
    const replayed = await rejection(
      stripe.charges.create(
        { amount: 5_000, currency: "usd", source: "tok_chargeDeclined" },
        { idempotencyKey: "decline" },
      ),
    );
    expect(replayed).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(replayed.charge).toBe(declined.charge);
  });

  it("does not remember a request refused for its parameters: it never started executing", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const invalid = await rejection(
      stripe.refunds.create(
        { charge: DEMO.charges.acmeLarge, amount: "lots" as unknown as number },
        { idempotencyKey: "retry-me" },
      ),
    );
    expect(invalid.code).toBe("parameter_invalid_integer");
    const fixed = await stripe.refunds.create(
      { charge: DEMO.charges.acmeLarge, amount: 300 },
      { idempotencyKey: "retry-me" },
    );
    expect(fixed.amount).toBe(300);
  });

  it("answers 409 while the first request with the key is still running, and replays afterwards", async () => {
    const box = await sandbox();
    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "latency", latencyMs: 300 });
    const stripe = stripeFor(box);
    const params = { charge: DEMO.charges.acmeLarge, amount: 700 };
    const first = stripe.refunds.create(params, { idempotencyKey: "busy" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const conflict = await rejection(stripe.refunds.create(params, { idempotencyKey: "busy" }));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe("idempotency_key_in_use");
    const done = await first;
    const replay = await stripe.refunds.create(params, { idempotencyKey: "busy" });
    expect(replay.id).toBe(done.id);
    expect(await refundsOf(stripe, DEMO.charges.acmeLarge)).toHaveLength(1);
  });

  it("lets the SDK's retry of a 409 converge on the first result", async () => {
    const box = await sandbox();
    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "latency", latencyMs: 200 });
    const stripe = stripeFor(box, box.keys.admin, { maxNetworkRetries: 2 });
    const params = { charge: DEMO.charges.acmeLarge, amount: 700 };
    const [a, b] = await Promise.all([
      stripe.refunds.create(params, { idempotencyKey: "twice" }),
      new Promise((resolve) => setTimeout(resolve, 30)).then(() =>
        stripe.refunds.create(params, { idempotencyKey: "twice" }),
      ),
    ]);
    expect(b.id).toBe(a.id);
    expect(box.requests.filter((r) => r.path === "/v1/refunds").map((r) => r.status)).toEqual([
      200, 409, 200,
    ]);
    expect(await refundsOf(stripe, DEMO.charges.acmeLarge)).toHaveLength(1);
  });

  it("forgets keys after 24 hours (by the sandbox's clock)", async () => {
    let now = Date.UTC(2031, 0, 1);
    const box = await sandbox({ clock: () => now });
    const stripe = stripeFor(box);
    await stripe.refunds.create(
      { charge: DEMO.charges.acmeLarge, amount: 100 },
      { idempotencyKey: "daily" },
    );
    now += 24 * 60 * 60 * 1000 - 1000;
    const stillKnown = await rejection(
      stripe.refunds.create(
        { charge: DEMO.charges.acmeLarge, amount: 200 },
        { idempotencyKey: "daily" },
      ),
    );
    expect(stillKnown).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    now += 1000;
    const fresh = await stripe.refunds.create(
      { charge: DEMO.charges.acmeLarge, amount: 200 },
      { idempotencyKey: "daily" },
    );
    expect(fresh.amount).toBe(200);
    expect(fresh.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
  });

  it("refuses keys longer than 255 characters", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const error = await rejection(
      stripe.refunds.create(
        { charge: DEMO.charges.acmeLarge, amount: 100 },
        { idempotencyKey: "k".repeat(256) },
      ),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error.statusCode).toBe(400);
    await expect(
      stripe.refunds.create(
        { charge: DEMO.charges.acmeLarge, amount: 100 },
        { idempotencyKey: "k".repeat(255) },
      ),
    ).resolves.toMatchObject({ amount: 100 });
  });

  it("keeps keys per account and ignores them on GET and DELETE", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const platform = await stripe.refunds.create(
      { charge: DEMO.charges.acmeLarge, amount: 100 },
      { idempotencyKey: "shared" },
    );
    const connected = await stripe.refunds.create(
      { charge: DEMO.charges.connected, amount: 100 },
      { idempotencyKey: "shared", stripeAccount: DEMO.accounts.connected },
    );
    expect(connected.id).not.toBe(platform.id);
    const read = await stripe.charges.retrieve(
      DEMO.charges.acmeLarge,
      {},
      { idempotencyKey: "shared" },
    );
    expect(read.lastResponse.headers["idempotent-replayed"]).toBeUndefined();
    await stripe.subscriptions.cancel(
      DEMO.subscriptions.acmeJaneMonthly,
      {},
      { idempotencyKey: "cancel" },
    );
    const second = await rejection(
      stripe.subscriptions.cancel(
        DEMO.subscriptions.acmeJaneMonthly,
        {},
        { idempotencyKey: "cancel" },
      ),
    );
    expect(second.code).toBe("resource_missing");
  });
});
