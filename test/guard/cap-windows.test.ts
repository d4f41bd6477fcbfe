import Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import type { CallOutcome } from "../../src/guard/guard.js";
import { harness, T0 } from "./fixtures/harness.js";
import { removeTempHomes } from "./fixtures/home.js";

/** Every cap window through the real guard and store, with the clock under test control. */

afterAll(removeTempHomes);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Caps small enough to reach in a few calls: per_call 100, session 250, day 300, customer 150. */
const POLICY = `
name: windows
mode: test
tools:
  lookup_charge:
    calls_per_hour: 3
  issue_refund:
caps:
  per_call: 100
  per_session: 250
  per_day: 300
  per_customer_per_day: 150
customers:
  metadata: { tenant: acme }
fx:
  eur: 1.1
`;

const WITHOUT_CUSTOMER_CAP = POLICY.replace("  per_customer_per_day: 150\n", "");

const refund = (charge: string, amount: number) => ({ charge, amount });
const codeOf = (outcome: CallOutcome) => (outcome.ok ? "ok" : outcome.code);

describe("cap windows", () => {
  it("session: settled + reserved + unknown count; refused and released money comes back", async () => {
    const h = await harness(POLICY);
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_usd", 5_000)))).toBe("ok");
    h.world.failNext("issue_refund", new Stripe.errors.StripeCardError({ message: "declined" }));
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_acme2", 10_000)))).toBe(
      "stripe_error",
    );
    // The declined $100 was released: $200 of the $250 are still there.
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_acme2", 10_000)))).toBe("ok");
    h.world.failNext("issue_refund", new Stripe.errors.StripeAPIError({ message: "500" }));
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_acme2", 5_000)))).toBe(
      "outcome_unknown",
    );
    // $50 + $100 settled + $50 unknown = $200: $50 left.
    const over = await h.guard.call("issue_refund", refund("ch_acme2", 5_001));
    expect(codeOf(over)).toBe("cap_session");
    expect(over.ok ? "" : over.message).toContain("only $50.00 left of the $250.00 session cap");
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_acme2", 5_000)))).not.toBe(
      "cap_session",
    );
  });

  it("day: shared by every session of the agent, not by other agents", async () => {
    const h = await harness(POLICY);
    const second = await h.newSession();
    const otherAgent = await h.newSession({ agent: "another-agent" });
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_usd", 10_000)))).toBe("ok");
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_acme2", 10_000)))).toBe("ok");
    expect(codeOf(await second.guard.call("issue_refund", refund("ch_acme2", 5_000)))).toBe("ok");
    // acme2 has had $150 today: its own cap is reached, whichever session asks.
    expect(codeOf(await second.guard.call("issue_refund", refund("ch_acme2", 1_000)))).toBe(
      "cap_customer_day",
    );
    const third = await h.newSession();
    expect(codeOf(await third.guard.call("issue_refund", refund("ch_big", 10_001)))).toBe(
      "cap_per_call",
    );
    const dayCap = await third.guard.call("issue_refund", refund("ch_eur", 5_000)); // €50 → $55
    expect(codeOf(dayCap)).toBe("cap_day");
    expect(dayCap.ok ? "" : dayCap.message).toContain(
      "€50.00 (≈ $55.00) refused: only $50.00 left of the $300.00 daily cap",
    );
    expect(codeOf(await otherAgent.guard.call("issue_refund", refund("ch_eur", 5_000)))).toBe("ok");
  });

  it("day: spend leaves the rolling window exactly 24 hours after it was reserved", async () => {
    const h = await harness(WITHOUT_CUSTOMER_CAP);
    for (const guard of [h.guard, (await h.newSession()).guard, (await h.newSession()).guard]) {
      expect(codeOf(await guard.call("issue_refund", refund("ch_big", 10_000)))).toBe("ok");
      h.clock.advance(HOUR);
    }
    const next = (await h.newSession()).guard;
    h.clock.now = T0 + DAY - 1; // 1 ms before the first refund ages out
    expect(codeOf(await next.call("issue_refund", refund("ch_big", 1)))).toBe("cap_day");
    h.clock.now = T0 + DAY;
    expect(codeOf(await next.call("issue_refund", refund("ch_big", 10_000)))).toBe("ok");
    expect(codeOf(await next.call("issue_refund", refund("ch_big", 1)))).toBe("cap_day");
    h.clock.advance(HOUR);
    expect(codeOf(await next.call("issue_refund", refund("ch_big", 10_000)))).toBe("ok");
  });

  it("per customer per day: per customer, rolling", async () => {
    const h = await harness(POLICY);
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_usd", 5_000)))).toBe("ok");
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_big", 10_000)))).toBe("ok");
    const over = await (await h.newSession()).guard.call("issue_refund", refund("ch_big", 1));
    expect(codeOf(over)).toBe("cap_customer_day");
    expect(over.ok ? "" : over.message).toContain(
      "nothing left of the $150.00 daily cap for this customer",
    );
    expect(
      codeOf(await (await h.newSession()).guard.call("issue_refund", refund("ch_acme2", 5_000))),
    ).toBe("ok");
    h.clock.advance(DAY);
    expect(
      codeOf(await (await h.newSession()).guard.call("issue_refund", refund("ch_big", 10_000))),
    ).toBe("ok");
  });

  it("an unknown outcome keeps counting past 24 hours, until it is reconciled", async () => {
    const h = await harness(WITHOUT_CUSTOMER_CAP);
    h.world.failNext("issue_refund", new Stripe.errors.StripeAPIError({ message: "500" }));
    expect(codeOf(await h.guard.call("issue_refund", refund("ch_big", 10_000)))).toBe(
      "outcome_unknown",
    );
    h.clock.advance(2 * DAY);
    const fresh = (await h.newSession()).guard;
    for (const charge of ["ch_usd", "ch_acme2"]) {
      expect(codeOf(await fresh.call("issue_refund", refund(charge, 10_000)))).toBe("ok");
    }
    expect(codeOf(await fresh.call("issue_refund", refund("ch_acme2", 100)))).toBe("cap_day");
    // Past the key's life it is not sent again: reading Stripe shows it never applied.
    expect(await fresh.reconcile()).toMatchObject({ released: 1 });
    expect(h.world.writesOf("issue_refund")).toHaveLength(3);
    expect(
      codeOf(await (await h.newSession()).guard.call("issue_refund", refund("ch_eur", 9_000))),
    ).toBe("ok");
  });

  it("calls per hour: a call leaves the window exactly an hour later", async () => {
    const h = await harness(POLICY);
    for (let i = 0; i < 3; i++) {
      expect(codeOf(await h.guard.call("lookup_charge", { charge: "ch_usd" }))).toBe("ok");
      h.clock.advance(10 * 60_000);
    }
    expect(
      codeOf(await (await h.newSession()).guard.call("lookup_charge", { charge: "ch_usd" })),
    ).toBe("rate_limited");
    h.clock.now = h.clock.now - 30 * 60_000 + HOUR; // the first call's hour is over
    expect(codeOf(await h.guard.call("lookup_charge", { charge: "ch_usd" }))).toBe("ok");
    expect(codeOf(await h.guard.call("lookup_charge", { charge: "ch_usd" }))).toBe("rate_limited");
  });
});
