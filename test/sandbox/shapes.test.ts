import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { sandbox, stripeFor } from "./helpers.js";

/**
 * Holds the sandbox's objects against Stripe's own published examples (stripe/openapi
 * fixtures, read from the shared folder, never copied here): the same top-level fields
 * with the same JSON types. `null` on either side is compatible with anything.
 */
const FIXTURES_PATH =
  process.env.STRIPE_FIXTURES ??
  fileURLToPath(new URL("../../../shared/stripe/fixtures.json", import.meta.url));
// The fixtures sit beside the checkout (../shared), not in it. A checkout without them
// (a fork, a bare clone elsewhere) skips this one file with the reason printed, instead
// of failing for a file it cannot have; STRIPE_FIXTURES points at another copy.
const fixturesFound = existsSync(FIXTURES_PATH);
if (!fixturesFound) {
  console.warn(`shapes.test.ts skipped: Stripe's fixtures not found at ${FIXTURES_PATH}`);
}
const fixtures = (
  fixturesFound ? JSON.parse(readFileSync(FIXTURES_PATH, "utf8")).resources : {}
) as Record<string, Record<string, unknown>>;

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

interface Comparison {
  matched: number;
  total: number;
  missing: string[];
  mismatched: string[];
  extra: string[];
}

function compare(ours: Record<string, unknown>, theirs: Record<string, unknown>): Comparison {
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const [key, example] of Object.entries(theirs)) {
    if (!(key in ours)) {
      missing.push(key);
      continue;
    }
    const [a, b] = [jsonType(ours[key]), jsonType(example)];
    if (a !== "null" && b !== "null" && a !== b) mismatched.push(`${key}: ${a} vs Stripe's ${b}`);
  }
  const extra = Object.keys(ours).filter((key) => !(key in theirs));
  const total = Object.keys(theirs).length;
  return { matched: total - missing.length, total, missing, mismatched, extra };
}

const report: string[] = [];
afterAll(() => {
  console.log(
    `Shape check against Stripe's fixtures (fields matched / fixture fields):\n${report.join("\n")}`,
  );
});

/** A real object of each kind, fetched through the SDK. */
const samples: Record<string, (stripe: Stripe) => Promise<object>> = {
  charge: (s) => s.charges.retrieve(DEMO.charges.acmePartiallyRefunded),
  refund: (s) => s.refunds.retrieve(DEMO.refunds.acmePartial),
  customer: (s) => s.customers.retrieve(DEMO.customers.acmeJane),
  payment_intent: (s) => s.paymentIntents.retrieve(DEMO.paymentIntents.acmeRequiresCapture),
  subscription: (s) => s.subscriptions.retrieve(DEMO.subscriptions.acmeJohnSeats),
  subscription_item: async (s) =>
    (await s.subscriptions.retrieve(DEMO.subscriptions.acmeJohnSeats)).items.data[0] as object,
  invoice: (s) => s.invoices.retrieve(DEMO.invoices.acmeOpen),
  dispute: (s) => s.disputes.retrieve(DEMO.disputes.acmeNeedsResponse),
  balance: (s) => s.balance.retrieve(),
  price: (s) => s.prices.retrieve(DEMO.prices.proMonthlyUsd),
  product: (s) => s.products.retrieve(DEMO.products.acmePro),
  payment_method: async (s) => {
    const intent = await s.paymentIntents.retrieve(DEMO.paymentIntents.acmeRequiresCapture);
    return s.paymentMethods.retrieve(intent.payment_method as string);
  },
};

describe.runIf(fixturesFound)("objects have Stripe's shape", () => {
  it.each(Object.keys(samples))("%s", async (resource) => {
    const box = await sandbox();
    const object = await (samples[resource] as (stripe: Stripe) => Promise<object>)(stripeFor(box));
    const fixture = fixtures[resource];
    expect(fixture, `fixtures.json has no ${resource}`).toBeDefined();
    // Back to JSON: the SDK turns decimal strings (`unit_amount_decimal`) into Decimal objects.
    const json = JSON.parse(JSON.stringify(object));
    const result = compare(json, fixture as Record<string, unknown>);
    report.push(
      `  ${resource.padEnd(18)} ${result.matched}/${result.total}` +
        (result.missing.length ? `  missing: ${result.missing.join(", ")}` : "") +
        (result.extra.length ? `  extra: ${result.extra.join(", ")}` : ""),
    );
    expect(result.mismatched).toEqual([]);
    expect(result.matched / result.total).toBeGreaterThanOrEqual(0.95);
    expect(result.missing).toEqual([]);
    expect(result.extra).toEqual([]);
  });
});
