import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { fakeStripeKey } from "../fake-keys.js";
import { call, connectStdio, errorOf, ROOT, tempHome } from "./harness.js";

/**
 * Scope comes first: over the real stdio server against the sandbox, an object outside
 * the agent's scope is refused with the very same words whatever its state (a payment
 * intent with no charge, a guest charge, a deleted customer), so a refusal tells nothing
 * about the object. And a tool the policy does not offer is refused as `tool_not_allowed`
 * before its arguments are looked at, so its schema never shows.
 */

let sandbox: Sandbox;
let admin: Stripe;
const home = tempHome();
/** Objects the seed does not have, made through Stripe's API as a merchant would. */
const made = { globexUncharged: "", acmeUncharged: "", guestCharge: "" };

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
  const uncharged = (customer: string) =>
    admin.paymentIntents.create({ amount: 3000, currency: "usd", customer });
  const guest = await admin.paymentIntents.create({
    amount: 1500,
    currency: "usd",
    payment_method: "pm_card_visa",
    confirm: true,
  });
  made.globexUncharged = (await uncharged(DEMO.customers.globexHank)).id;
  made.acmeUncharged = (await uncharged(DEMO.customers.acmeJane)).id;
  made.guestCharge = String(guest.latest_charge);
});

afterAll(async () => {
  await sandbox.close();
  home.cleanup();
});

const SUPPORT = `${ROOT}/policies/support-refunds.yaml`;

async function supportAgent() {
  return connectStdio({
    policy: SUPPORT,
    home: home.dir,
    sandbox,
    key: sandbox.keys.roles["support-refunds"],
  });
}

const outOfScope = (tool: string) =>
  `${tool} refused: customer out of scope — this agent may only act for the customers its policy allows. Nothing was changed; do not retry for this object.`;

describe("an object out of scope is refused with the same words, whatever its state", () => {
  it("issue_refund by payment_intent: another tenant's intent with no charge says nothing of its status", async () => {
    const server = await supportAgent();
    try {
      const uncharged = errorOf(
        await call(server.client, "issue_refund", { payment_intent: made.globexUncharged }),
      );
      const charged = errorOf(
        await call(server.client, "issue_refund", { charge: DEMO.charges.globexEur }),
      );
      expect(uncharged).toEqual(charged);
      expect(uncharged).toMatchObject({
        code: "customer_out_of_scope",
        message: outOfScope("issue_refund"),
      });
      expect(JSON.stringify(uncharged)).not.toMatch(/status|requires_|charge to refund/);

      // In scope, the same state is explained once scope has passed.
      const own = errorOf(
        await call(server.client, "issue_refund", { payment_intent: made.acmeUncharged }),
      );
      expect(own.code).toBe("stripe_error");
      expect(own.message).toBe(
        `Payment intent ${made.acmeUncharged} has no charge to refund (status requires_payment_method).`,
      );
    } finally {
      await server.close();
    }
  });

  it("a guest charge (no customer) is refused in the same words as another tenant's", async () => {
    const server = await supportAgent();
    try {
      for (const tool of ["lookup_charge", "issue_refund"]) {
        const guest = errorOf(await call(server.client, tool, { charge: made.guestCharge }));
        const globex = errorOf(await call(server.client, tool, { charge: DEMO.charges.globexEur }));
        expect(guest).toEqual(globex);
        expect(guest).toMatchObject({
          code: "customer_out_of_scope",
          message: outOfScope(tool),
        });
      }
    } finally {
      await server.close();
    }
  });
});

describe("a deleted customer out of scope is refused as out of scope", () => {
  // The sandbox cannot delete customers; a few lines of Stripe's wire format can: a
  // retrieve of a deleted customer answers `{id, object, deleted: true}`.
  let stub: Server;
  let stubUrl = "";
  beforeAll(async () => {
    stub = createServer((req, res) => {
      const id = /^\/v1\/customers\/([A-Za-z0-9_]+)/.exec(req.url ?? "")?.[1];
      res.setHeader("Content-Type", "application/json");
      res.setHeader("Request-Id", "req_stub");
      if (req.method === "GET" && id) {
        res.end(JSON.stringify({ id, object: "customer", deleted: true }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "not here" } }));
    });
    await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

  it("lookup_customer does not say it was deleted", async () => {
    const server = await connectStdio({
      policy: SUPPORT,
      home: home.dir,
      sandbox,
      key: fakeStripeKey("rk", "test", "stubbedDeletedCustomer"),
      env: { SPENDGUARD_STRIPE_BASE_URL: stubUrl },
    });
    try {
      const error = errorOf(
        await call(server.client, "lookup_customer", { customer: "cus_GoneGlobex" }),
      );
      expect(error).toMatchObject({
        code: "customer_out_of_scope",
        message: outOfScope("lookup_customer"),
      });
      expect(JSON.stringify(error)).not.toMatch(/deleted/);
    } finally {
      await server.close();
    }
  });
});

describe("a tool the policy does not offer is refused before its arguments are read", () => {
  it("tool_not_allowed, whatever the arguments: the schema never shows", async () => {
    const server = await supportAgent();
    try {
      const refusals = [];
      for (const args of [
        { subscription: DEMO.subscriptions.acmeJaneMonthly },
        { bogus: 1 },
        {},
        { subscription: 42, at_period_end: "now" },
      ]) {
        refusals.push(errorOf(await call(server.client, "cancel_subscription", args)));
      }
      for (const refusal of refusals) {
        expect(refusal).toEqual(refusals[0]);
        expect(refusal.code).toBe("tool_not_allowed");
        expect(JSON.stringify(refusal)).not.toMatch(/subscription"|at_period_end|known/);
      }
      // Raw arguments that are not an object at all: the same refusal.
      const raw = await server.client.callTool({
        name: "cancel_subscription",
        arguments: ["x"] as unknown as Record<string, unknown>,
      });
      expect(errorOf(raw as Parameters<typeof errorOf>[0])).toEqual(refusals[0]);
    } finally {
      await server.close();
    }
  });
});
