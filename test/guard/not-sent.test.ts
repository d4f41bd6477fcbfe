import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { createStripeClient } from "../../src/stripe/client.js";
import { type Harness, harness } from "./fixtures/harness.js";

/**
 * A write whose handler fails before any request of it left for Stripe was not sent: its
 * reservation is released, not left `unknown` forever. The guard's Stripe client (built as
 * the server builds it) sees every request leave; a request that did leave keeps the
 * call `unknown` however the handler fails afterwards. The sandbox is the Stripe here.
 */

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
});
afterAll(() => sandbox.close());

async function guarded(): Promise<Harness> {
  return await harness(undefined, {
    stripe: createStripeClient({ apiKey: sandbox.keys.admin, baseUrl: sandbox.url }),
  });
}

const refund = { charge: "ch_usd", amount: 2_500, reason: "duplicate" };
const admissions = async (h: Harness) => await h.store.listAdmissions({});
const lastAudit = async (h: Harness) => (await h.store.queryAudit({})).at(-1);

describe("an error before any byte left for Stripe means not sent", () => {
  it("a bug in the handler before it sends: released, internal_error, nothing counted", async () => {
    const h = await guarded();
    h.world.failNext("issue_refund", new TypeError("cannot read properties of undefined"));
    const outcome = await h.guard.call("issue_refund", refund);
    expect(outcome).toMatchObject({ ok: false, code: "internal_error" });
    expect(outcome.ok ? "" : outcome.message).toContain("nothing was changed");
    expect(await admissions(h)).toMatchObject([{ state: "released" }]);
    expect(await lastAudit(h)).toMatchObject({
      decision: "allow",
      outcome: "failed",
      code: "internal_error",
    });
    // The money came back: the same refund is admitted again, with a fresh reservation.
    expect((await h.guard.call("issue_refund", refund)).ok).toBe(true);
    expect((await admissions(h)).map((a) => a.state)).toEqual(["released", "settled"]);
  });

  it("a request that left, then a bug: the outcome stays unknown", async () => {
    const h = await guarded();
    h.world.duringHandle = async (_tool, ctx) => {
      // The handler reaches Stripe with the call's key before it fails.
      await ctx.stripe.refunds.create(
        { charge: DEMO.charges.acmeSmallC, amount: 100 },
        { idempotencyKey: ctx.idempotencyKey },
      );
    };
    h.world.failNext("issue_refund", new TypeError("cannot read properties of undefined"));
    const outcome = await h.guard.call("issue_refund", refund);
    expect(outcome).toMatchObject({ ok: false, code: "internal_error" });
    expect(await admissions(h)).toMatchObject([{ state: "unknown" }]);
    expect(await lastAudit(h)).toMatchObject({ outcome: "unknown", code: "internal_error" });
  });
});
