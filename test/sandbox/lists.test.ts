import fc from "fast-check";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { LIST_PARAMS, listPage, readPage } from "../../src/sandbox/list.js";
import { Params } from "../../src/sandbox/params.js";
import { type CustomerRecord, Store } from "../../src/sandbox/store.js";
import { raw, rejection, sandbox, stripeFor } from "./helpers.js";

async function createCustomers(stripe: Stripe, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(
      (await stripe.customers.create({ email: `c${i}@example.com`, metadata: { n: String(i) } }))
        .id,
    );
  }
  return ids;
}

describe("lists", () => {
  it("walks 250 objects with the SDK's auto-pagination: newest first, none twice, none missing", async () => {
    const box = await sandbox({ seed: "empty" });
    const stripe = stripeFor(box);
    const created = await createCustomers(stripe, 250);
    const all = await stripe.customers.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(all.map((c) => c.id)).toEqual([...created].reverse());

    const walked: string[] = [];
    for await (const customer of stripe.customers.list({ limit: 7 })) walked.push(customer.id);
    expect(walked).toEqual([...created].reverse());
    // 36 pages of 7, then the SDK stops: has_more was false on the last one.
    expect(box.requests.filter((r) => r.method === "GET").length).toBe(3 + 36);
  });

  it("pages backwards with ending_before, still newest first within a page", async () => {
    const box = await sandbox({ seed: "empty" });
    const stripe = stripeFor(box);
    const created = await createCustomers(stripe, 25);
    const oldest = created[0] as string;
    const page = await stripe.customers.list({ limit: 10, ending_before: oldest });
    expect(page.data.map((c) => c.id)).toEqual(created.slice(1, 11).reverse());
    expect(page.has_more).toBe(true);
    const reversed: string[] = [];
    for await (const c of stripe.customers.list({ limit: 4, ending_before: oldest }))
      reversed.push(c.id);
    expect(reversed).toEqual(created.slice(1));
  });

  it("returns Stripe's list object", async () => {
    const box = await sandbox();
    const page = await stripeFor(box).charges.list({ limit: 2 });
    expect(page).toMatchObject({ object: "list", has_more: true, url: "/v1/charges" });
    expect(page.data).toHaveLength(2);
    const defaults = await stripeFor(box).charges.list();
    expect(defaults.data).toHaveLength(10);
  });

  it.each([
    ["0", "This value must be greater than or equal to 1."],
    ["101", "This value must be less than or equal to 100."],
    ["ten", "Invalid integer: ten"],
  ])("refuses limit=%s with parameter_invalid_integer", async (limit, message) => {
    const box = await sandbox();
    const error = await rejection(
      stripeFor(box).charges.list({ limit: limit as unknown as number }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({
      statusCode: 400,
      code: "parameter_invalid_integer",
      param: "limit",
      message,
    });
  });

  it("refuses an unknown cursor with resource_missing naming the parameter", async () => {
    const box = await sandbox();
    const error = await rejection(stripeFor(box).charges.list({ starting_after: "ch_nope" }));
    expect(error).toMatchObject({
      statusCode: 404,
      code: "resource_missing",
      param: "starting_after",
    });
    expect(error.message).toBe("No such charge: 'ch_nope'");
  });

  it("filters by created range", async () => {
    let now = Date.UTC(2030, 0, 1);
    const box = await sandbox({ seed: "empty", clock: () => now });
    const stripe = stripeFor(box);
    const ids: string[] = [];
    for (let day = 0; day < 5; day++) {
      now = Date.UTC(2030, 0, 1 + day);
      ids.push((await stripe.customers.create({})).id);
    }
    const second = Date.UTC(2030, 0, 2) / 1000;
    const fourth = Date.UTC(2030, 0, 4) / 1000;
    const between = await stripe.customers.list({ created: { gte: second, lt: fourth } });
    expect(between.data.map((c) => c.id)).toEqual([ids[2], ids[1]]);
    const after = await stripe.customers.list({ created: { gt: fourth } });
    expect(after.data.map((c) => c.id)).toEqual([ids[4]]);
    const exact = await stripe.customers.list({ created: second });
    expect(exact.data.map((c) => c.id)).toEqual([ids[1]]);
    const error = await rejection(
      stripe.customers.list({ created: { after: 1 } as Stripe.RangeQueryParam }),
    );
    expect(error).toMatchObject({ code: "parameter_unknown", param: "created[after]" });
  });

  it("filters charges and payment intents by customer", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const janes = await stripe.charges.list({ customer: DEMO.customers.acmeJane, limit: 100 });
    expect(janes.data.length).toBeGreaterThanOrEqual(5);
    expect(janes.data.every((c) => c.customer === DEMO.customers.acmeJane)).toBe(true);
    const intents = await stripe.paymentIntents.list({ customer: DEMO.customers.acmeJohn });
    expect(intents.data.map((pi) => pi.id)).toEqual([DEMO.paymentIntents.acmeSucceeded]);
    const byIntent = await stripe.charges.list({
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
    });
    expect(byIntent.data).toHaveLength(1);
  });

  it("filters customers by exact email", async () => {
    const box = await sandbox();
    const found = await stripeFor(box).customers.list({ email: "jane.doe@acme.example" });
    expect(found.data.map((c) => c.id)).toEqual([DEMO.customers.acmeJane]);
    const none = await stripeFor(box).customers.list({ email: "JANE.DOE@acme.example" });
    expect(none.data).toEqual([]);
  });

  it("leaves canceled subscriptions out unless asked for", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const ids = async (params: Stripe.SubscriptionListParams) =>
      (await stripe.subscriptions.list({ limit: 100, ...params })).data.map((s) => s.id);
    expect(await ids({})).not.toContain(DEMO.subscriptions.acmeCanceled);
    expect(await ids({})).toContain(DEMO.subscriptions.acmeJaneMonthly);
    expect(await ids({ status: "canceled" })).toEqual([DEMO.subscriptions.acmeCanceled]);
    expect(await ids({ status: "all" })).toHaveLength(4);
    expect(await ids({ status: "ended" })).toEqual([DEMO.subscriptions.acmeCanceled]);
    expect(await ids({ customer: DEMO.customers.acmeJohn })).toEqual([
      DEMO.subscriptions.acmeJohnSeats,
    ]);
    const error = await rejection(stripe.subscriptions.list({ status: "gone" as "active" }));
    expect(error).toMatchObject({ statusCode: 400, param: "status" });
  });

  it("filters invoices by customer and status", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const open = await stripe.invoices.list({ status: "open", limit: 100 });
    expect(open.data.map((i) => i.id).sort()).toEqual(
      [DEMO.invoices.acmeOpen, DEMO.invoices.acmeCardFails, DEMO.invoices.globexOpen].sort(),
    );
    const janes = await stripe.invoices.list({ customer: DEMO.customers.acmeJane });
    expect(janes.data.map((i) => i.id)).toEqual([DEMO.invoices.acmeOpen, DEMO.invoices.acmePaid]);
  });

  it("filters refunds and disputes by charge and payment intent", async () => {
    const box = await sandbox();
    const stripe = stripeFor(box);
    const refunds = await stripe.refunds.list({ charge: DEMO.charges.acmePartiallyRefunded });
    expect(refunds.data.map((r) => r.id)).toEqual([DEMO.refunds.acmePartial]);
    const byIntent = await stripe.refunds.create({
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
      amount: 500,
    });
    const intentRefunds = await stripe.refunds.list({
      payment_intent: DEMO.paymentIntents.acmeSucceeded,
    });
    expect(intentRefunds.data.map((r) => r.id)).toEqual([byIntent.id]);
    const disputes = await stripe.disputes.list({ charge: DEMO.charges.acmeDisputed });
    expect(disputes.data.map((d) => d.id)).toEqual([DEMO.disputes.acmeNeedsResponse]);
    expect((await stripe.disputes.list({ limit: 100 })).data).toHaveLength(2);
  });

  it("expands a field of every listed object with data.<field>", async () => {
    const box = await sandbox();
    const disputes = await stripeFor(box).disputes.list({ expand: ["data.charge.customer"] });
    for (const dispute of disputes.data) {
      const charge = dispute.charge as Stripe.Charge;
      expect(charge.object).toBe("charge");
      expect((charge.customer as Stripe.Customer).object).toBe("customer");
    }
    const error = await rejection(stripeFor(box).charges.list({ expand: ["customer"] }));
    expect(error).toMatchObject({
      statusCode: 400,
      message: "This property cannot be expanded (customer).",
    });
  });

  it("reads list parameters from the query string in bracket notation", async () => {
    const box = await sandbox();
    const response = await raw(
      box,
      `/v1/charges?limit=1&expand[]=data.customer&customer=${DEMO.customers.acmeJohn}`,
      {
        headers: { authorization: `Bearer ${box.keys.admin}` },
      },
    );
    expect(response.status).toBe(200);
    const body = response.json as { data: { customer: { id: string } }[] };
    expect(body.data[0]?.customer.id).toBe(DEMO.customers.acmeJohn);
  });
});

describe("listPage (property)", () => {
  const customer = (id: string, created: number): Omit<CustomerRecord, "seq"> => ({
    id,
    account: "acct_x",
    created,
    email: null,
    name: null,
    phone: null,
    description: null,
    address: null,
    metadata: {},
    defaultSource: null,
    invoicePrefix: "P",
  });

  it("walks any list forwards and backwards in any page size, each object once, newest first", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        (createdTimes, limit) => {
          const store = new Store("acct_x", []);
          createdTimes.forEach((created, i) => {
            store.customers.insert(customer(`cus_${i}`, created));
          });
          const expected = store.customers.all("acct_x").map((c) => c.id);
          const page = (cursor: Record<string, string>) => {
            const params = Params.read({ limit: String(limit), ...cursor }, LIST_PARAMS);
            return listPage({
              account: "acct_x",
              collection: store.customers,
              matching: () => true,
              page: readPage(params),
              url: "/v1/customers",
              render: (c) => ({ id: c.id }),
            }) as { data: { id: string }[]; has_more: boolean };
          };
          const forward: string[] = [];
          let next = page({});
          forward.push(...next.data.map((c) => c.id));
          while (next.has_more) {
            next = page({ starting_after: forward.at(-1) as string });
            forward.push(...next.data.map((c) => c.id));
          }
          expect(forward).toEqual(expected);
          if (expected.length === 0) return;
          // Backwards from the oldest, as the SDK does with ending_before.
          const backward: string[] = [];
          let cursor = expected.at(-1) as string;
          for (;;) {
            const previous = page({ ending_before: cursor });
            backward.unshift(...previous.data.map((c) => c.id));
            if (!previous.has_more || previous.data.length === 0) break;
            cursor = previous.data[0]?.id as string;
          }
          expect(backward).toEqual(expected.slice(0, -1));
        },
      ),
      { numRuns: 200 },
    );
  });
});
