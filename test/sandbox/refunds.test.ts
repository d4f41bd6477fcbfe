import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { rejection, sandbox, stripeFor } from "./helpers.js";

describe("refunds", () => {
  it("refunds part of a charge, then the rest, and the charge follows", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const first = await stripe.refunds.create({
      charge: DEMO.charges.acmeLarge,
      amount: 12_500,
      reason: "requested_by_customer",
      metadata: { ticket: "T-1" },
    });
    expect(first).toMatchObject({
      object: "refund",
      amount: 12_500,
      currency: "usd",
      charge: DEMO.charges.acmeLarge,
      payment_intent: null,
      reason: "requested_by_customer",
      status: "succeeded",
      metadata: { ticket: "T-1" },
    });
    expect(first.id).toMatch(/^re_/);
    expect(first.balance_transaction).toMatch(/^txn_/);
    const partly = await stripe.charges.retrieve(DEMO.charges.acmeLarge);
    expect(partly).toMatchObject({ amount_refunded: 12_500, refunded: false });
    expect(partly.refunds?.data.map((r) => r.id)).toEqual([first.id]);

    const rest = await stripe.refunds.create({ charge: DEMO.charges.acmeLarge });
    expect(rest.amount).toBe(37_500);
    const full = await stripe.charges.retrieve(DEMO.charges.acmeLarge);
    expect(full).toMatchObject({ amount_refunded: 50_000, refunded: true });
    expect(full.refunds?.data.map((r) => r.id)).toEqual([rest.id, first.id]);

    const again = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 100 }),
    );
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({
      statusCode: 400,
      code: "charge_already_refunded",
      message: `Charge ${DEMO.charges.acmeLarge} has already been refunded.`,
    });
  });

  it("refuses more than is left, with the amounts in the charge's currency", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const usd = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmePartiallyRefunded, amount: 2_500 }),
    );
    expect(usd).toMatchObject({
      statusCode: 400,
      param: "amount",
      message: "Refund amount ($25.00) is greater than unrefunded amount on charge ($21.45)",
    });
    const eur = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.globexEur, amount: 8_000 }),
    );
    expect(eur.message).toBe(
      "Refund amount (€80.00) is greater than unrefunded amount on charge (€75.00)",
    );
    const jpy = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.globexJpy, amount: 6_000 }),
    );
    expect(jpy.message).toBe(
      "Refund amount (¥6,000) is greater than unrefunded amount on charge (¥5,000)",
    );
    // Leaving the amount out refunds exactly what is left.
    const rest = await stripe.refunds.create({ charge: DEMO.charges.acmePartiallyRefunded });
    expect(rest.amount).toBe(2_145);
  });

  it("stops a refund loop exactly at the charge amount", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    for (let i = 0; i < 10; i++) {
      await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 5_000 });
    }
    const eleventh = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 5_000 }),
    );
    expect(eleventh.code).toBe("charge_already_refunded");
    expect(
      (await stripe.refunds.list({ charge: DEMO.charges.acmeLarge, limit: 100 })).data,
    ).toHaveLength(10);
  });

  it("refunds the charge of a payment intent", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const refund = await stripe.refunds.create({
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
      expand: ["charge"],
    });
    const charge = refund.charge as Stripe.Charge;
    expect(refund).toMatchObject({
      amount: 6_500,
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
    });
    expect(charge).toMatchObject({
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
      refunded: true,
      amount_refunded: 6_500,
    });
    const held = await rejection(
      stripe.refunds.create({ payment_intent: DEMO.paymentIntents.acmeRequiresCapture }),
    );
    expect(held).toMatchObject({
      statusCode: 400,
      code: "charge_not_refundable",
      param: "payment_intent",
    });
  });

  it("refuses a charged-back charge but not one under a mere inquiry", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const disputed = await rejection(stripe.refunds.create({ charge: DEMO.charges.acmeDisputed }));
    expect(disputed).toMatchObject({ statusCode: 400, code: "charge_disputed" });
    await expect(
      stripe.refunds.create({ charge: DEMO.charges.globexInquiry }),
    ).resolves.toMatchObject({ amount: 4_000 });
  });

  it("refuses bad parameters", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const reason = await rejection(
      stripe.refunds.create({
        charge: DEMO.charges.acmeLarge,
        reason: "changed_mind" as "duplicate",
      }),
    );
    expect(reason).toMatchObject({
      statusCode: 400,
      code: "parameter_invalid_string",
      param: "reason",
      message: "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
    });
    const neither = await rejection(stripe.refunds.create({}));
    expect(neither).toMatchObject({ statusCode: 400, code: "parameter_missing" });
    const both = await rejection(
      stripe.refunds.create({
        charge: DEMO.charges.acmeLarge,
        payment_intent: DEMO.paymentIntents.acmeSucceeded,
      }),
    );
    expect(both).toMatchObject({ statusCode: 400, code: "parameters_exclusive" });
    const negative = await rejection(
      stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: -5 }),
    );
    expect(negative).toMatchObject({ code: "parameter_invalid_integer", param: "amount" });
    const missing = await rejection(stripe.refunds.create({ charge: "ch_nope" }));
    expect(missing).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "charge",
      message: "No such charge: 'ch_nope'",
    });
    const gone = await rejection(stripe.refunds.retrieve("re_nope"));
    expect(gone).toMatchObject({ statusCode: 404, message: "No such refund: 're_nope'" });
  });

  it("changes the balance by what was refunded", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const usd = async () =>
      (await stripe.balance.retrieve()).available.find((b) => b.currency === "usd")?.amount;
    const before = await usd();
    await stripe.refunds.create({ charge: DEMO.charges.acmeSmallA, amount: 1_234 });
    expect(await usd()).toBe((before as number) - 1_234);
    const balance = await stripe.balance.retrieve();
    expect(balance.available.map((b) => b.currency)).toEqual(["eur", "jpy", "usd"]);
    expect(balance.pending.every((b) => b.amount === 0)).toBe(true);
  });
});
