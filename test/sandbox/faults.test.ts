import { request } from "node:http";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO, type Sandbox } from "../../src/sandbox/index.js";
import { raw, rejection, sandbox, stripeFor } from "./helpers.js";

const refundsOf = async (stripe: Stripe, charge: string = DEMO.charges.acmeLarge) =>
  (await stripe.refunds.list({ charge, limit: 100 })).data;
const posts = (box: Sandbox, path = "/v1/refunds") =>
  box.requests.filter((r) => r.method === "POST" && r.path === path);

describe("faults before the write (nothing applied)", () => {
  it.each([500, 503] as const)(
    "a %i is retried by the SDK with the same key: exactly one refund",
    async (status) => {
      const box = await sandbox();
      box.faults.add({ method: "POST", path: "/v1/refunds", kind: "status", status });
      const stripe = stripeFor(box, box.keys.admin, { maxNetworkRetries: 2 });
      const refund = await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 1_000 });
      expect(refund.amount).toBe(1_000);
      const attempts = posts(box);
      expect(attempts.map((r) => r.status)).toEqual([status, 200]);
      expect(new Set(attempts.map((r) => r.idempotencyKey)).size).toBe(1);
      expect(await refundsOf(stripe)).toHaveLength(1);
    },
  );

  it("a 500 without retries raises StripeAPIError", async () => {
    const box = await sandbox();
    box.faults.add({ path: "/v1/charges/*", kind: "status", status: 500 });
    const error = await rejection(stripeFor(box).charges.retrieve(DEMO.charges.acmeLarge));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: "api_error" });
    expect(error.requestId).toMatch(/^req_/);
  });

  it("a 429 lock_timeout asks the SDK to retry; without retries it is a StripeRateLimitError", async () => {
    const box = await sandbox();
    box.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "status",
      status: 429,
      code: "lock_timeout",
      times: 2,
    });
    const once = await rejection(
      stripeFor(box).refunds.create({ charge: DEMO.charges.acmeLarge, amount: 1_000 }),
    );
    expect(once).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(once).toMatchObject({ statusCode: 429, code: "lock_timeout" });
    expect(once.headers?.["stripe-should-retry"]).toBe("true");
    const retried = await stripeFor(box, box.keys.admin, { maxNetworkRetries: 2 }).refunds.create({
      charge: DEMO.charges.acmeLarge,
      amount: 1_000,
    });
    expect(retried.amount).toBe(1_000);
    expect(posts(box).map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it("a 429 rate_limit is not retried", async () => {
    const box = await sandbox();
    box.faults.add({ method: "GET", path: "/v1/balance", kind: "status", status: 429 });
    const error = await rejection(
      stripeFor(box, box.keys.admin, { maxNetworkRetries: 2 }).balance.retrieve(),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(error.code).toBe("rate_limit");
    expect(box.requests).toHaveLength(1);
  });

  it("a reset connection never carried the request; the SDK's retry applies it once", async () => {
    const box = await sandbox();
    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "reset" });
    // stripe-node retries a closed connection once even with maxNetworkRetries: 0.
    const stripe = stripeFor(box);
    const refund = await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 1_000 });
    expect(posts(box).map((r) => r.status)).toEqual([0, 200]);
    expect((await refundsOf(stripe)).map((r) => r.id)).toEqual([refund.id]);

    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "reset", times: 2 });
    const error = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 1_000 }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(await refundsOf(stripe)).toHaveLength(1);
  });

  it("a hang ends in the client's timeout, and close() still finishes", async () => {
    const box = await sandbox();
    box.faults.add({ path: "/v1/balance", kind: "hang", times: 2 });
    const error = await rejection(
      stripeFor(box, box.keys.admin, { timeout: 200 }).balance.retrieve(),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(error.message).toContain("timeout");
    // A second hanging request with no client timeout at all: close() must not wait for it.
    const hanging = new Promise<string>((resolve) => {
      const req = request(`${box.url}/v1/balance`, {
        headers: { authorization: `Bearer ${box.keys.admin}` },
      });
      req.on("error", (e) => resolve(e.message));
      req.on("response", () => resolve("answered"));
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await box.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await hanging).not.toBe("answered");
    expect(box.requests.map((r) => r.status)).toEqual([0, 0]);
  });

  it("latency delays the answer but not its content", async () => {
    const box = await sandbox();
    box.faults.add({ path: "/v1/balance", kind: "latency", latencyMs: 250 });
    const started = Date.now();
    await expect(stripeFor(box).balance.retrieve()).resolves.toMatchObject({ object: "balance" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    const quick = Date.now();
    await stripeFor(box).balance.retrieve();
    expect(Date.now() - quick).toBeLessThan(200);
  });
});

describe("faults after the write (applied, answer lost): the case that loses money", () => {
  it("a 500 after the refund: the refund exists although the client saw an error; the same key replays it", async () => {
    const box = await sandbox();
    box.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "status",
      status: 500,
      afterApply: true,
    });
    const stripe = stripeFor(box);
    const params = { charge: DEMO.charges.acmeLarge, amount: 4_000 };
    const error = await rejection(stripe.refunds.create(params, { idempotencyKey: "refund-42" }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    const [applied] = await refundsOf(stripe);
    expect(applied?.amount).toBe(4_000);

    const retry = await stripe.refunds.create(params, { idempotencyKey: "refund-42" });
    expect(retry.id).toBe(applied?.id);
    expect(retry.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(await refundsOf(stripe)).toHaveLength(1);
  });

  it("the SDK's own retry (same generated key) gets the replayed success: one refund, no error", async () => {
    const box = await sandbox();
    box.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "status",
      status: 503,
      afterApply: true,
    });
    const stripe = stripeFor(box, box.keys.admin, { maxNetworkRetries: 2 });
    const refund = await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 4_000 });
    expect(refund.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect(posts(box).map((r) => r.status)).toEqual([503, 200]);
    expect((await refundsOf(stripe)).map((r) => r.id)).toEqual([refund.id]);
  });

  it("a reset after the refund is retried by the SDK onto the replay", async () => {
    const box = await sandbox();
    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "reset", afterApply: true });
    const stripe = stripeFor(box);
    const refund = await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 4_000 });
    expect(refund.lastResponse.headers["idempotent-replayed"]).toBe("true");
    expect((await refundsOf(stripe)).map((r) => r.id)).toEqual([refund.id]);
  });

  it("a hang after the refund times out, yet the refund exists and the key replays it", async () => {
    const box = await sandbox();
    box.faults.add({ method: "POST", path: "/v1/refunds", kind: "hang", afterApply: true });
    const stripe = stripeFor(box, box.keys.admin, { timeout: 200 });
    const params = { charge: DEMO.charges.acmeLarge, amount: 4_000 };
    const error = await rejection(stripe.refunds.create(params, { idempotencyKey: "slow" }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(await refundsOf(stripe)).toHaveLength(1);
    const retry = await stripe.refunds.create(params, { idempotencyKey: "slow" });
    expect(retry.lastResponse.headers["idempotent-replayed"]).toBe("true");
  });

  it("without an idempotency key the retry refunds a second time", async () => {
    const box = await sandbox();
    box.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "status",
      status: 500,
      afterApply: true,
    });
    const send = () =>
      raw(box, "/v1/refunds", {
        method: "POST",
        headers: {
          authorization: `Bearer ${box.keys.admin}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: `charge=${DEMO.charges.acmeLarge}&amount=4000`,
      });
    expect((await send()).status).toBe(500);
    expect((await send()).status).toBe(200);
    expect(await refundsOf(stripeFor(box))).toHaveLength(2);
  });
});

describe("fault rules", () => {
  it("match by method and glob, apply to the next N matching requests in order, then stop", async () => {
    const box = await sandbox();
    box.faults.add({ method: "GET", path: "/v1/refunds*", kind: "status", status: 503, times: 2 });
    const stripe = stripeFor(box);
    expect(box.faults.list()).toEqual([
      { method: "GET", path: "/v1/refunds*", kind: "status", status: 503, times: 2, remaining: 2 },
    ]);
    await expect(stripe.charges.retrieve(DEMO.charges.acmeLarge)).resolves.toBeDefined();
    expect((await rejection(stripe.refunds.retrieve(DEMO.refunds.acmePartial))).statusCode).toBe(
      503,
    );
    expect(box.faults.list()[0]?.remaining).toBe(1);
    expect((await rejection(stripe.refunds.list())).statusCode).toBe(503);
    await expect(stripe.refunds.list()).resolves.toBeDefined();
    expect(box.faults.list()).toEqual([]);
  });

  it("apply the first matching rule first", async () => {
    const box = await sandbox();
    box.faults.add({ path: "/v1/balance", kind: "status", status: 502 });
    box.faults.add({ path: "/v1/*", kind: "status", status: 500 });
    const stripe = stripeFor(box);
    expect((await rejection(stripe.balance.retrieve())).statusCode).toBe(502);
    expect((await rejection(stripe.balance.retrieve())).statusCode).toBe(500);
    await expect(stripe.balance.retrieve()).resolves.toBeDefined();
  });

  it("refuse an invalid rule", () => {
    return sandbox().then((box) => {
      expect(() => box.faults.add({ path: "/v1/balance", kind: "latency" })).toThrow(/latencyMs/);
      expect(() => box.faults.add({ path: "v1/balance", kind: "reset" })).toThrow();
      expect(() =>
        box.faults.add({ path: "/v1/balance", kind: "status", status: 418 as 500 }),
      ).toThrow();
      expect(() =>
        box.faults.add({ path: "/v1/balance", kind: "status", status: 500, code: "rate_limit" }),
      ).toThrow(/429/);
      expect(box.faults.list()).toEqual([]);
    });
  });

  it("are also set, listed and cleared over HTTP, without a Stripe key", async () => {
    const box = await sandbox();
    const added = await raw(box, "/_sandbox/faults", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        method: "POST",
        path: "/v1/refunds",
        kind: "status",
        status: 500,
        afterApply: true,
      }),
    });
    expect(added.status).toBe(200);
    expect((await raw(box, "/_sandbox/faults")).json).toMatchObject({
      faults: [{ path: "/v1/refunds", remaining: 1 }],
    });
    const invalid = await raw(box, "/_sandbox/faults", {
      method: "POST",
      body: JSON.stringify({ path: "/v1/refunds", kind: "explode" }),
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({ error: { message: expect.stringContaining("kind") } });
    expect((await raw(box, "/_sandbox/faults", { method: "POST", body: "{nope" })).status).toBe(
      400,
    );

    const stripe = stripeFor(box);
    await rejection(stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 100 }));
    expect(await refundsOf(stripe)).toHaveLength(1);

    await raw(box, "/_sandbox/faults", {
      method: "POST",
      body: JSON.stringify({ path: "/v1/balance", kind: "status", status: 500, times: 5 }),
    });
    expect((await raw(box, "/_sandbox/faults", { method: "DELETE" })).status).toBe(200);
    await expect(stripe.balance.retrieve()).resolves.toBeDefined();

    const log = (await raw(box, "/_sandbox/requests")).json as {
      count: number;
      requests: { method: string; path: string; status: number; idempotencyKey?: string }[];
    };
    expect(log.count).toBe(3);
    expect(log.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ["POST", "/v1/refunds", 500],
      ["GET", "/v1/refunds", 200],
      ["GET", "/v1/balance", 200],
    ]);
    expect(log.requests[0]?.idempotencyKey).toMatch(/^stripe-node-retry-/);
    expect((await raw(box, "/_sandbox/nothing")).status).toBe(404);
  });
});
