import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { rejection, sandbox, stripeFor } from "./helpers.js";

describe("customers", () => {
  it("creates a customer with a card attached as the default source", async () => {
    const box = await sandbox({ seed: "empty" });
    const stripe = stripeFor(box);
    const created = await stripe.customers.create({
      email: "ada@example.com",
      name: "Ada Lovelace",
      phone: "+442071234567",
      address: { line1: "12 St James's Sq", city: "London", country: "GB" },
      metadata: { tenant: "acme" },
      source: "tok_visa",
    });
    expect(created).toMatchObject({
      object: "customer",
      email: "ada@example.com",
      livemode: false,
      metadata: { tenant: "acme" },
      address: { line1: "12 St James's Sq", line2: null, city: "London", country: "GB" },
    });
    expect(created.id).toMatch(/^cus_[A-Za-z0-9]{24}$/);
    expect(created.default_source).toMatch(/^card_/);
    const expanded = await stripe.customers.retrieve(created.id, { expand: ["default_source"] });
    expect((expanded as Stripe.Customer).default_source).toMatchObject({
      object: "card",
      last4: "4242",
      brand: "Visa",
      customer: created.id,
    });
  });

  it("updates fields and merges metadata; an empty value removes a key", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const updated = await stripe.customers.update(DEMO.customers.acmeJane, {
      email: "jane@acme.example",
      metadata: { plan: "", vip: "yes" },
    });
    expect(updated.email).toBe("jane@acme.example");
    expect(updated.metadata).toEqual({ tenant: "acme", vip: "yes" });
    expect(
      (await stripe.customers.retrieve(DEMO.customers.acmeJane)) as Stripe.Customer,
    ).toMatchObject({
      email: "jane@acme.example",
    });
    const cleared = await stripe.customers.update(DEMO.customers.acmeJane, {
      metadata: null as unknown as Stripe.MetadataParam,
    });
    expect(cleared.metadata).toEqual({});
  });

  it("refuses what Stripe refuses", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const missing = await rejection(stripe.customers.retrieve("cus_nope"));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "id",
      message: "No such customer: 'cus_nope'",
    });
    const unknown = await rejection(
      stripe.customers.create({ foo: "bar" } as Stripe.CustomerCreateParams),
    );
    expect(unknown).toMatchObject({
      statusCode: 400,
      code: "parameter_unknown",
      param: "foo",
      message: "Received unknown parameter: foo",
    });
    const nested = await rejection(
      stripe.customers.create({
        address: { planet: "Mars" },
      } as unknown as Stripe.CustomerCreateParams),
    );
    expect(nested).toMatchObject({ code: "parameter_unknown", param: "address[planet]" });
    const email = await rejection(stripe.customers.create({ email: "not-an-email" }));
    expect(email).toMatchObject({ statusCode: 400, code: "email_invalid", param: "email" });
    const token = await rejection(stripe.customers.create({ source: "tok_nope" }));
    expect(token).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "source",
      message: "No such token: 'tok_nope'",
    });
    const empty = await rejection(stripe.customers.create({ source: "" }));
    expect(empty).toMatchObject({
      statusCode: 400,
      code: "parameter_invalid_string_empty",
      param: "source",
    });
  });

  it("does not create the customer when the card is declined on attach", async () => {
    const box = await sandbox({ seed: "empty" });
    const stripe = stripeFor(box);
    const error = await rejection(
      stripe.customers.create({ email: "x@example.com", source: "tok_chargeDeclined" }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({
      statusCode: 402,
      code: "card_declined",
      decline_code: "generic_decline",
    });
    expect((await stripe.customers.list()).data).toEqual([]);
  });

  it("replaces the default source when updated with a new one", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const before = (await stripe.customers.retrieve(DEMO.customers.acmeJohn)) as Stripe.Customer;
    const after = await stripe.customers.update(
      DEMO.customers.acmeJohn,
      { source: "tok_amex" },
      { stripeAccount: undefined },
    );
    expect(after.default_source).not.toBe(before.default_source);
    const charge = await stripe.charges.create({
      amount: 1_000,
      currency: "usd",
      customer: DEMO.customers.acmeJohn,
    });
    expect(charge.payment_method_details?.card?.brand).toBe("amex");
  });
});

describe("charges", () => {
  it("charges a test token: captured, paid, with Stripe's links", async () => {
    const box = await sandbox({ seed: "empty" });
    const stripe = stripeFor(box);
    const charge = await stripe.charges.create({
      amount: 2_000,
      currency: "USD",
      source: "tok_visa",
      description: "Order 42",
      metadata: { order: "42" },
    });
    expect(charge).toMatchObject({
      object: "charge",
      amount: 2_000,
      amount_captured: 2_000,
      amount_refunded: 0,
      captured: true,
      paid: true,
      refunded: false,
      disputed: false,
      currency: "usd",
      status: "succeeded",
      customer: null,
      payment_intent: null,
      description: "Order 42",
      metadata: { order: "42" },
      refunds: {
        object: "list",
        data: [],
        has_more: false,
        url: `/v1/charges/${charge.id}/refunds`,
      },
      payment_method_details: { type: "card", card: { brand: "visa", last4: "4242" } },
      source: { object: "card", last4: "4242" },
      outcome: { type: "authorized", network_status: "approved_by_network" },
    });
    expect(charge.id).toMatch(/^ch_/);
    expect(charge.balance_transaction).toMatch(/^txn_/);
    expect(charge.payment_method).toMatch(/^card_/);
    expect(charge.created).toBeCloseTo(Date.now() / 1000, -1);
  });

  it("charges a customer's default source, or a source of theirs", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const customer = (await stripe.customers.retrieve(DEMO.customers.acmeJane)) as Stripe.Customer;
    const byDefault = await stripe.charges.create({
      amount: 5_000,
      currency: "usd",
      customer: customer.id,
    });
    expect(byDefault.payment_method).toBe(customer.default_source);
    const named = await stripe.charges.create({
      amount: 5_000,
      currency: "usd",
      customer: customer.id,
      source: customer.default_source as string,
      expand: ["customer"],
    });
    expect((named.customer as Stripe.Customer).email).toBe("jane.doe@acme.example");
  });

  it("refuses a token that is not a source of the customer (404 missing, param source)", async () => {
    const box = await sandbox();
    const error = await rejection(
      stripeFor(box).charges.create({
        amount: 5_000,
        currency: "usd",
        customer: DEMO.customers.acmeJane,
        source: "tok_visa",
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({
      statusCode: 404,
      code: "missing",
      param: "source",
      message: `Customer ${DEMO.customers.acmeJane} does not have a linked source with ID tok_visa.`,
    });
  });

  it("refuses to charge a customer with no card, as a card error (402 missing)", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const bare = await stripe.customers.create({ email: "bare@example.com" });
    const error = await rejection(
      stripe.charges.create({ amount: 5_000, currency: "usd", customer: bare.id }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({
      code: "missing",
      param: "card",
      message: "Cannot charge a customer that has no active card",
    });
  });

  it("declines tok_chargeDeclined with a card_error and keeps the failed charge", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const error = await rejection(
      stripe.charges.create({ amount: 5_000, currency: "usd", source: "tok_chargeDeclined" }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({
      statusCode: 402,
      code: "card_declined",
      decline_code: "generic_decline",
      message: "Your card was declined.",
    });
    const failed = await stripe.charges.retrieve(error.charge as string);
    expect(failed).toMatchObject({
      status: "failed",
      paid: false,
      captured: false,
      failure_code: "card_declined",
      outcome: { type: "issuer_declined", reason: "generic_decline" },
    });
  });

  it("authorizes without capturing when capture=false", async () => {
    const box = await sandbox();
    const charge = await stripeFor(box).charges.create({
      amount: 5_000,
      currency: "usd",
      source: "tok_visa",
      capture: false,
    });
    expect(charge).toMatchObject({
      captured: false,
      amount_captured: 0,
      paid: true,
      status: "succeeded",
      balance_transaction: null,
    });
  });

  it("applies each currency's minimum, in the currency's own unit", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const usd = await rejection(
      stripe.charges.create({ amount: 49, currency: "usd", source: "tok_visa" }),
    );
    expect(usd).toMatchObject({
      statusCode: 400,
      code: "amount_too_small",
      param: "amount",
      message: "Amount must be at least $0.50 usd",
    });
    const jpy = await rejection(
      stripe.charges.create({ amount: 49, currency: "jpy", source: "tok_visa" }),
    );
    expect(jpy).toMatchObject({
      code: "amount_too_small",
      message: "Amount must be at least ¥50 jpy",
    });
    await expect(
      stripe.charges.create({ amount: 50, currency: "jpy", source: "tok_visa" }),
    ).resolves.toMatchObject({ amount: 50 });
    await expect(
      stripe.charges.create({ amount: 1_000, currency: "krw", source: "tok_visa" }),
    ).resolves.toMatchObject({ currency: "krw" });
  });

  it("refuses bad parameters with Stripe's codes", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const noAmount = await rejection(
      stripe.charges.create({ currency: "usd", source: "tok_visa" } as Stripe.ChargeCreateParams),
    );
    expect(noAmount).toMatchObject({
      code: "parameter_missing",
      param: "amount",
      message: "Missing required param: amount.",
    });
    const badAmount = await rejection(
      stripe.charges.create({
        amount: "ten" as unknown as number,
        currency: "usd",
        source: "tok_visa",
      }),
    );
    expect(badAmount).toMatchObject({
      code: "parameter_invalid_integer",
      param: "amount",
      message: "Invalid integer: ten",
    });
    const currency = await rejection(
      stripe.charges.create({ amount: 5_000, currency: "xyz", source: "tok_visa" }),
    );
    expect(currency).toMatchObject({ statusCode: 400, param: "currency" });
    const nothing = await rejection(stripe.charges.create({ amount: 5_000, currency: "usd" }));
    expect(nothing).toMatchObject({ statusCode: 400, code: "parameter_missing", param: "source" });
    const missing = await rejection(stripe.charges.retrieve("ch_nope"));
    expect(missing).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "id",
      message: "No such charge: 'ch_nope'",
    });
  });
});

describe("payment intents", () => {
  it("confirms at once with automatic capture: succeeded, with a real charge", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const intent = await stripe.paymentIntents.create({
      amount: 3_000,
      currency: "eur",
      customer: DEMO.customers.globexHank,
      payment_method: "pm_card_visa",
      confirm: true,
      expand: ["latest_charge"],
    });
    expect(intent).toMatchObject({
      status: "succeeded",
      amount_received: 3_000,
      amount_capturable: 0,
      capture_method: "automatic",
    });
    expect(intent.client_secret).toMatch(new RegExp(`^${intent.id}_secret_`));
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      object: "charge",
      payment_intent: intent.id,
      captured: true,
      amount: 3_000,
      currency: "eur",
      customer: DEMO.customers.globexHank,
      source: null,
    });
    expect(charge.payment_method).toBe(intent.payment_method);
    expect(await stripe.paymentMethods.retrieve(intent.payment_method as string)).toMatchObject({
      object: "payment_method",
      card: { last4: "4242" },
    });
  });

  it("walks the statuses: requires_payment_method, requires_confirmation", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const bare = await stripe.paymentIntents.create({ amount: 1_000, currency: "usd" });
    expect(bare).toMatchObject({
      status: "requires_payment_method",
      latest_charge: null,
      payment_method: null,
    });
    const withCard = await stripe.paymentIntents.create({
      amount: 1_000,
      currency: "usd",
      payment_method: "pm_card_visa",
    });
    expect(withCard.status).toBe("requires_confirmation");
  });

  it("authorizes with manual capture, then captures part of it", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const held = await stripe.paymentIntents.retrieve(DEMO.paymentIntents.acmeRequiresCapture, {
      expand: ["latest_charge", "customer"],
    });
    expect(held).toMatchObject({
      status: "requires_capture",
      capture_method: "manual",
      amount_capturable: 15_000,
      amount_received: 0,
    });
    expect(held.latest_charge).toMatchObject({ captured: false, amount_captured: 0 });
    expect((held.customer as Stripe.Customer).id).toBe(DEMO.customers.acmeJane);

    const tooMuch = await rejection(
      stripe.paymentIntents.capture(held.id, { amount_to_capture: 15_001 }),
    );
    expect(tooMuch).toMatchObject({
      statusCode: 400,
      code: "amount_too_large",
      param: "amount_to_capture",
    });

    const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 12_000 });
    expect(captured).toMatchObject({
      status: "succeeded",
      amount_received: 12_000,
      amount_capturable: 0,
    });
    const charge = await stripe.charges.retrieve(captured.latest_charge as string);
    expect(charge).toMatchObject({ captured: true, amount_captured: 12_000, amount: 15_000 });
    expect(charge.balance_transaction).toMatch(/^txn_/);

    const again = await rejection(stripe.paymentIntents.capture(held.id));
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, code: "payment_intent_unexpected_state" });
    expect(again.message).toContain("status of succeeded");
  });

  it("declines on confirm with a card error that carries the intent", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const error = await rejection(
      stripe.paymentIntents.create({
        amount: 2_000,
        currency: "usd",
        payment_method: "pm_card_chargeDeclined",
        confirm: true,
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ code: "card_declined", decline_code: "generic_decline" });
    const intent = error.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      status: "requires_payment_method",
      last_payment_error: { code: "card_declined" },
    });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe(
      "requires_payment_method",
    );
  });

  it("refuses bad parameters", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const confirmBare = await rejection(
      stripe.paymentIntents.create({ amount: 1_000, currency: "usd", confirm: true }),
    );
    expect(confirmBare).toMatchObject({ code: "parameter_missing", param: "payment_method" });
    const method = await rejection(
      stripe.paymentIntents.create({
        amount: 1_000,
        currency: "usd",
        capture_method: "later" as "manual",
      }),
    );
    expect(method).toMatchObject({ statusCode: 400, param: "capture_method" });
    const pm = await rejection(
      stripe.paymentIntents.create({ amount: 1_000, currency: "usd", payment_method: "pm_nope" }),
    );
    expect(pm).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "payment_method",
    });
    const missing = await rejection(stripe.paymentIntents.retrieve("pi_nope"));
    expect(missing.message).toBe("No such payment_intent: 'pi_nope'");
  });
});
