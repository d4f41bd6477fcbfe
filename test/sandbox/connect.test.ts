import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { rejection, sandbox, stripeFor } from "./helpers.js";

const connected = { stripeAccount: DEMO.accounts.connected };

describe("Connect: Stripe-Account scopes every request to one account", () => {
  it("shows the platform's objects without the header and the connected account's with it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const platformCharges = await stripe.charges.list({ limit: 100 });
    expect(platformCharges.data.map((c) => c.id)).toContain(DEMO.charges.acmeLarge);
    expect(platformCharges.data.map((c) => c.id)).not.toContain(DEMO.charges.connected);

    const connectedCharges = await stripe.charges.list({ limit: 100 }, connected);
    expect(connectedCharges.data.map((c) => c.id)).toEqual([DEMO.charges.connected]);
    const customer = await stripe.customers.retrieve(
      DEMO.customers.connectedShopper,
      {},
      connected,
    );
    expect(customer).toMatchObject({ email: "shopper@connected.example" });
    expect(connectedCharges.lastResponse.stripeAccount).toBe(DEMO.accounts.connected);
  });

  it("answers 404 for an object of another account, both ways", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const fromPlatform = await rejection(stripe.charges.retrieve(DEMO.charges.connected));
    expect(fromPlatform).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(fromPlatform).toMatchObject({ statusCode: 404, code: "resource_missing", param: "id" });
    expect(fromPlatform.message).toBe(`No such charge: '${DEMO.charges.connected}'`);
    const fromConnected = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmeLarge }, connected),
    );
    expect(fromConnected).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "charge",
    });
  });

  it("keeps writes on the account they were made on", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const refund = await stripe.refunds.create(
      { charge: DEMO.charges.connected, amount: 200 },
      connected,
    );
    expect((await stripe.refunds.list({ limit: 100 }, connected)).data.map((r) => r.id)).toEqual([
      refund.id,
    ]);
    expect((await stripe.refunds.list({ limit: 100 })).data.map((r) => r.id)).not.toContain(
      refund.id,
    );
    const balance = await stripe.balance.retrieve({}, connected);
    expect(balance.available.find((b) => b.currency === "usd")?.amount).toBe(4_200 - 200);
  });

  it("refuses an account the key cannot reach with Stripe's 403", async () => {
    const box = await sandbox();
    const error = await rejection(
      stripeFor(box, box.keys.roles["support-refunds"]).charges.list(
        {},
        { stripeAccount: "acct_1Unknown" },
      ),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("account_invalid");
    expect(error.message).toBe(
      "The provided key 'rk_test_****unds' does not have access to account 'acct_1Unknown' (or that account does not exist). Application access may have been revoked.",
    );
  });

  it("names the connected account in a permission refusal", async () => {
    const box = await sandbox();
    const error = await rejection(
      stripeFor(box, box.keys.roles["analytics-readonly"]).refunds.create(
        { charge: DEMO.charges.connected },
        connected,
      ),
    );
    expect(error.message).toContain(`on account '${DEMO.accounts.connected}'`);
  });

  it("logs the account a request named", async () => {
    const box = await sandbox();
    await stripeFor(box).balance.retrieve({}, connected);
    expect(box.requests.at(-1)).toMatchObject({
      path: "/v1/balance",
      account: DEMO.accounts.connected,
      status: 200,
    });
  });

  it("has no connected account in the empty seed", async () => {
    const box = await sandbox({ seed: "empty" });
    const error = await rejection(stripeFor(box).balance.retrieve({}, connected));
    expect(error.code).toBe("account_invalid");
  });
});
