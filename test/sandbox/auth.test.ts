import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { DEMO, ENDPOINT_PERMISSIONS, permissionName, ROLE_KEYS } from "../../src/sandbox/index.js";
import { raw, rejection, sandbox, stripeFor } from "./helpers.js";

const denied = (key: string, permission: string, account: string = DEMO.accounts.platform) =>
  `The provided key '${key}' does not have the required permissions for this endpoint on account '${account}'. Having the '${permission}' permission would allow this request to continue.`;

describe("keys", () => {
  it("refuses an unknown key with 401 and the key redacted to prefix and last four", async () => {
    const box = await sandbox();
    const error = await rejection(stripeFor(box, "sk_test_not_a_real_key_9876").balance.retrieve());
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.type).toBe("StripeAuthenticationError");
    expect(error.message).toBe("Invalid API Key provided: sk_test_****9876");
    expect(error.message).not.toContain("not_a_real");
  });

  it("refuses a request without a key with 401", async () => {
    const box = await sandbox();
    const response = await raw(box, "/v1/balance");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Basic");
    expect(response.json).toMatchObject({
      error: {
        type: "invalid_request_error",
        message: expect.stringContaining("You did not provide an API key"),
      },
    });
  });

  it("accepts the key as Bearer or as the HTTP Basic user", async () => {
    const box = await sandbox();
    const basic = Buffer.from(`${box.keys.admin}:`).toString("base64");
    for (const authorization of [`Bearer ${box.keys.admin}`, `Basic ${basic}`]) {
      const response = await raw(box, "/v1/balance", { headers: { authorization } });
      expect(response.status).toBe(200);
      expect(response.json).toMatchObject({ object: "balance" });
    }
  });

  it("gives every response a Request-Id and echoes Stripe-Version", async () => {
    const box = await sandbox();
    const balance = await stripeFor(box).balance.retrieve();
    expect(balance.lastResponse.requestId).toMatch(/^req_[A-Za-z0-9]{14,}$/);
    expect(balance.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
    const error = await rejection(stripeFor(box, "sk_test_nope").balance.retrieve());
    expect(error.requestId).toMatch(/^req_[A-Za-z0-9]{14,}$/);
    const custom = await raw(box, "/v1/balance", {
      headers: { authorization: `Bearer ${box.keys.admin}`, "stripe-version": "2024-06-20" },
    });
    expect(custom.headers.get("stripe-version")).toBe("2024-06-20");
  });

  it("lets keys passed to startSandbox in: sk_test_ without permissions can do everything", async () => {
    const box = await sandbox({
      seed: "empty",
      keys: [{ key: "sk_test_extra_admin" }, { key: "rk_test_nothing" }],
    });
    await expect(stripeFor(box, "sk_test_extra_admin").balance.retrieve()).resolves.toMatchObject({
      object: "balance",
    });
    const error = await rejection(stripeFor(box, "rk_test_nothing").balance.retrieve());
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
  });
});

describe("restricted-key permissions", () => {
  it("refuses a missing permission with Stripe's exact 403 wording", async () => {
    const box = await sandbox();
    const analytics = stripeFor(box, box.keys.roles["analytics-readonly"]);
    const error = await rejection(
      analytics.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 100 }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(error.statusCode).toBe(403);
    expect(error.rawType).toBe("invalid_request_error");
    expect(error.message).toBe(denied("rk_test_****only", "rak_refund_write"));
  });

  const cases: [keyof typeof ROLE_KEYS, string, (s: Stripe) => Promise<unknown>, string][] = [
    ["support-refunds", "read the balance", (s) => s.balance.retrieve(), "rak_balance_read"],
    [
      "support-refunds",
      "cancel a subscription",
      (s) => s.subscriptions.cancel(DEMO.subscriptions.acmeJaneMonthly),
      "rak_subscription_write",
    ],
    [
      "support-refunds",
      "capture a payment",
      (s) => s.paymentIntents.capture(DEMO.paymentIntents.acmeRequiresCapture),
      "rak_payment_intent_write",
    ],
    [
      "subscription-manager",
      "read a charge",
      (s) => s.charges.retrieve(DEMO.charges.acmeLarge),
      "rak_charge_read",
    ],
    [
      "subscription-manager",
      "pay an invoice",
      (s) => s.invoices.pay(DEMO.invoices.acmeOpen),
      "rak_invoice_write",
    ],
    [
      "dispute-handler",
      "update a customer",
      (s) => s.customers.update(DEMO.customers.acmeJane, { name: "x" }),
      "rak_customer_write",
    ],
    [
      "billing-collections",
      "submit dispute evidence",
      (s) => s.disputes.update(DEMO.disputes.acmeNeedsResponse, { submit: true }),
      "rak_dispute_write",
    ],
    [
      "analytics-readonly",
      "pay an invoice",
      (s) => s.invoices.pay(DEMO.invoices.acmeOpen),
      "rak_invoice_write",
    ],
  ];
  it.each(cases)("%s may not %s", async (role, _what, call, permission) => {
    const box = await sandbox();
    const key = box.keys.roles[role];
    const error = await rejection(call(stripeFor(box, key)));
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(error.message).toBe(denied(`rk_test_****${key.slice(-4)}`, permission));
  });

  it("lets each role do what it is for", async () => {
    const box = await sandbox();
    const as = (role: keyof typeof ROLE_KEYS) => stripeFor(box, box.keys.roles[role]);
    await expect(
      as("support-refunds").refunds.create({ charge: DEMO.charges.acmeSmallA, amount: 500 }),
    ).resolves.toMatchObject({ object: "refund" });
    await expect(
      as("billing-collections").invoices.pay(DEMO.invoices.acmeOpen),
    ).resolves.toMatchObject({ status: "paid" });
    await expect(
      as("billing-collections").paymentIntents.capture(DEMO.paymentIntents.acmeRequiresCapture),
    ).resolves.toMatchObject({ status: "succeeded" });
    await expect(
      as("subscription-manager").subscriptions.update(DEMO.subscriptions.acmeJaneMonthly, {
        cancel_at_period_end: true,
      }),
    ).resolves.toMatchObject({ cancel_at_period_end: true });
    await expect(
      as("dispute-handler").disputes.update(DEMO.disputes.acmeNeedsResponse, {
        evidence: { customer_name: "Jane" },
      }),
    ).resolves.toMatchObject({ object: "dispute" });
    await expect(as("analytics-readonly").balance.retrieve()).resolves.toMatchObject({
      object: "balance",
    });
  });

  it("requires read permission on what an expansion reveals", async () => {
    const disputesKey = "rk_test_sg_disputes_charges_customers";
    const box = await sandbox({
      keys: [
        {
          key: disputesKey,
          permissions: { disputes: "read", charges: "read", customers: "read" },
        },
      ],
    });
    const disputes = stripeFor(box, disputesKey);
    // The key may read charges and customers, so both levels expand.
    const dispute = await disputes.disputes.retrieve(DEMO.disputes.acmeNeedsResponse, {
      expand: ["charge.customer"],
    });
    expect((dispute.charge as Stripe.Charge).customer).toMatchObject({
      id: DEMO.customers.acmeJohn,
    });
    // …but not payment intents.
    const error = await rejection(
      disputes.disputes.retrieve(DEMO.disputes.acmeNeedsResponse, { expand: ["payment_intent"] }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripePermissionError);
    expect(error.message).toContain("rak_payment_intent_read");
    const billing = stripeFor(box, box.keys.roles["billing-collections"]);
    const listError = await rejection(billing.invoices.list({ expand: ["data.subscription"] }));
    expect(listError.message).toContain("rak_subscription_read");
  });

  it("checks an expansion before a write runs, so a refused one leaves nothing behind", async () => {
    const box = await sandbox();
    const support = stripeFor(box, box.keys.roles["support-refunds"]);
    const error = await rejection(
      support.refunds.create({
        charge: DEMO.charges.acmeSmallB,
        amount: 100,
        expand: ["charge.customer.default_source.customer.x"],
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    const admin = stripeFor(box);
    expect((await admin.refunds.list({ charge: DEMO.charges.acmeSmallB })).data).toHaveLength(0);
  });

  it("publishes the permission each endpoint needs", () => {
    const find = (method: string, path: string) =>
      ENDPOINT_PERMISSIONS.find((e) => e.method === method && e.path === path)?.permission;
    expect(find("POST", "/v1/refunds")).toBe("rak_refund_write");
    expect(find("POST", "/v1/invoices/:id/pay")).toBe("rak_invoice_write");
    expect(find("POST", "/v1/disputes/:id")).toBe("rak_dispute_write");
    expect(find("DELETE", "/v1/subscriptions/:id")).toBe("rak_subscription_write");
    expect(find("POST", "/v1/subscriptions/:id")).toBe("rak_subscription_write");
    expect(find("POST", "/v1/payment_intents/:id/capture")).toBe("rak_payment_intent_write");
    expect(find("GET", "/v1/balance")).toBe("rak_balance_read");
    expect(find("GET", "/v1/charges/:id")).toBe("rak_charge_read");
    expect(find("GET", "/v1/customers")).toBe("rak_customer_read");
    expect(permissionName({ resource: "payment_methods", access: "read" })).toBe(
      "rak_payment_method_read",
    );
    // Every GET needs read, every write needs write.
    for (const endpoint of ENDPOINT_PERMISSIONS) {
      expect(endpoint.access).toBe(endpoint.method === "GET" ? "read" : "write");
    }
  });

  it("gives each demo role exactly what it needs and nothing that moves other money", () => {
    expect(ROLE_KEYS["support-refunds"].permissions).toEqual({
      charges: "read",
      refunds: "write",
      customers: "read",
      payment_intents: "read",
    });
    expect(
      Object.values(ROLE_KEYS["analytics-readonly"].permissions).every((a) => a === "read"),
    ).toBe(true);
  });
});
