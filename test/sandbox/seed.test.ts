import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { ADMIN_KEY, DEMO, ROLE_KEYS } from "../../src/sandbox/index.js";
import { sandbox, stripeFor } from "./helpers.js";

describe("the demo seed", () => {
  it("holds every object DEMO names", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const connected = { stripeAccount: DEMO.accounts.connected };
    const { connectedShopper, ...customers } = DEMO.customers;
    const { connected: connectedCharge, ...charges } = DEMO.charges;
    const found = await Promise.all([
      ...Object.values(customers).map((id) => stripe.customers.retrieve(id)),
      stripe.customers.retrieve(connectedShopper, {}, connected),
      ...Object.values(charges).map((id) => stripe.charges.retrieve(id)),
      stripe.charges.retrieve(connectedCharge, {}, connected),
      ...Object.values(DEMO.paymentIntents).map((id) => stripe.paymentIntents.retrieve(id)),
      ...Object.values(DEMO.refunds).map((id) => stripe.refunds.retrieve(id)),
      ...Object.values(DEMO.products).map((id) => stripe.products.retrieve(id)),
      ...Object.values(DEMO.prices).map((id) => stripe.prices.retrieve(id)),
      ...Object.values(DEMO.subscriptions).map((id) => stripe.subscriptions.retrieve(id)),
      ...Object.values(DEMO.invoices).map((id) => stripe.invoices.retrieve(id)),
      ...Object.values(DEMO.disputes).map((id) => stripe.disputes.retrieve(id)),
    ]);
    expect(found.every((object) => typeof object.id === "string")).toBe(true);
  });

  it("has two tenants, a customer without one, and a card on every customer", async () => {
    const box = await sandbox();
    const customers = (await stripeFor(box).customers.list({ limit: 100 })).data;
    const tenants = customers.map((c) => c.metadata.tenant ?? "(none)");
    expect(new Set(tenants)).toEqual(new Set(["acme", "globex", "(none)"]));
    expect(
      customers.every((c) => c.default_source !== null && c.email && c.phone && c.address?.country),
    ).toBe(true);
    expect(customers.find((c) => c.id === DEMO.customers.noTenant)?.metadata).toEqual({});
  });

  it("has charges in usd, eur and jpy, refunded in part and in full, and one disputed", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const charges = (await stripe.charges.list({ limit: 100 })).data;
    expect(new Set(charges.map((c) => c.currency))).toEqual(new Set(["usd", "eur", "jpy"]));
    const byId = new Map(charges.map((c) => [c.id, c] as [string, Stripe.Charge]));
    expect(byId.get(DEMO.charges.acmePartiallyRefunded)).toMatchObject({
      amount_refunded: 1_855,
      refunded: false,
    });
    expect(byId.get(DEMO.charges.acmeFullyRefunded)).toMatchObject({
      amount_refunded: 3_000,
      refunded: true,
    });
    expect(byId.get(DEMO.charges.acmeDisputed)).toMatchObject({ disputed: true });
    expect(byId.get(DEMO.charges.acmeLarge)).toMatchObject({
      amount: 50_000,
      amount_refunded: 0,
      currency: "usd",
    });
    expect((await stripe.disputes.retrieve(DEMO.disputes.acmeNeedsResponse)).status).toBe(
      "needs_response",
    );
    expect(
      (await stripe.paymentIntents.retrieve(DEMO.paymentIntents.acmeRequiresCapture)).status,
    ).toBe("requires_capture");
  });

  it("is deterministic, down to the objects DEMO does not name", async () => {
    const [a, b] = await Promise.all([sandbox(), sandbox()]);
    const ids = async (box: typeof a) =>
      (await stripeFor(box).charges.list({ limit: 100 })).data.map((c) => c.id);
    expect(await ids(a)).toEqual(await ids(b));
  });

  it("answers for the same keys whatever the seed, and the empty seed holds nothing", async () => {
    const box = await sandbox({ seed: "empty" });
    expect(box.keys.admin).toBe(ADMIN_KEY);
    expect(box.keys.roles).toEqual(
      Object.fromEntries(Object.entries(ROLE_KEYS).map(([role, { key }]) => [role, key])),
    );
    const stripe = stripeFor(box, box.keys.roles["analytics-readonly"]);
    expect((await stripe.customers.list()).data).toEqual([]);
    expect((await stripe.charges.list()).data).toEqual([]);
    expect((await stripe.balance.retrieve()).available).toEqual([
      { amount: 0, currency: "usd", source_types: { card: 0 } },
    ]);
  });
});
