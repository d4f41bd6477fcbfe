import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { call, connectStdio, errorOf, okOf, ROOT, tempHome } from "./harness.js";

/**
 * Strict function calling (OpenAI's `strict: true` tools; the OpenAI Agents SDK's
 * `convertSchemasToStrict`) makes every property required and the optional ones
 * nullable, so a model sends `"payment_intent": null` for "not given". Over the real stdio
 * server against the sandbox, every tool is called exactly as such a model fills the
 * rewritten schema (`fixtures/strict-schemas.json`, made by the SDK itself): every
 * optional argument it does not want is `null`, and it means "not given".
 */

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
}

const STRICT = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures/strict-schemas.json"), "utf8"),
) as { generator: string; tools: { name: string; strict: JsonSchema }[] };

function strictSchemaOf(tool: string): JsonSchema {
  const found = STRICT.tools.find((t) => t.name === tool);
  if (!found) throw new Error(`no strict schema for ${tool}: regenerate the fixture`);
  return found.strict;
}

/**
 * The arguments a strict model sends: every property the strict schema requires, with
 * `given` where the call means something and `null` in every nullable one it leaves out.
 */
function strictArgs(schema: JsonSchema, given: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const name of schema.required ?? []) {
    const property = schema.properties?.[name] ?? {};
    const value = given[name];
    if (property.type === "object" && value !== null && typeof value === "object") {
      args[name] = strictArgs(property, value as Record<string, unknown>);
    } else if (value !== undefined) {
      args[name] = value;
    } else if (property.anyOf?.some((branch) => branch.type === "null")) {
      args[name] = null;
    } else {
      throw new Error(`the strict schema requires ${name}, and the test gives no value`);
    }
  }
  return args;
}

/** The property names at every depth: what the fixture and the live schemas must share. */
function shape(schema: JsonSchema): unknown {
  const object = schema.properties
    ? schema
    : schema.anyOf?.find((branch) => branch.properties !== undefined);
  if (!object?.properties) return null;
  return Object.fromEntries(
    Object.entries(object.properties)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, inner]) => [name, shape(inner)]),
  );
}

let sandbox: Sandbox;
let admin: Stripe;
const home = tempHome();

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
});

afterAll(async () => {
  await sandbox.close();
  home.cleanup();
});

async function withServer<T>(role: string, run: (client: Client) => Promise<T>): Promise<T> {
  const server = await connectStdio({
    policy: `${ROOT}/policies/${role}.yaml`,
    home: home.dir,
    sandbox,
    key: sandbox.keys.roles[role as keyof Sandbox["keys"]["roles"]],
  });
  try {
    return await run(server.client);
  } finally {
    await server.close();
  }
}

/** What each tool is called with, by role; everything else is `null`, as a strict model sends it. */
const CALLS: Record<string, [tool: string, given: Record<string, unknown>][]> = {
  "support-refunds": [
    ["lookup_charge", { charge: DEMO.charges.acmeLarge }],
    ["list_charges", { customer: DEMO.customers.acmeJane }],
    ["lookup_customer", { customer: DEMO.customers.acmeJane }],
    ["find_customer", { email: "jane.doe@acme.example" }],
    ["lookup_payment_intent", { payment_intent: DEMO.paymentIntents.acmeSucceeded }],
    ["lookup_refund", { refund: DEMO.refunds.acmePartial }],
    ["issue_refund", { charge: DEMO.charges.acmeSmallA, amount: 1_000, reason: "duplicate" }],
    ["session_status", {}],
    ["end_session", {}],
  ],
  "subscription-manager": [
    ["list_subscriptions", { customer: DEMO.customers.acmeJane }],
    ["list_invoices", { customer: DEMO.customers.acmeJane }],
    ["cancel_subscription", { subscription: DEMO.subscriptions.acmeJohnSeats }],
  ],
  "billing-collections": [
    ["capture_payment_intent", { payment_intent: DEMO.paymentIntents.acmeRequiresCapture }],
    ["pay_invoice", { invoice: DEMO.invoices.acmeOpen }],
  ],
  "dispute-handler": [
    ["list_disputes", {}],
    [
      "submit_dispute_evidence",
      {
        dispute: DEMO.disputes.acmeNeedsResponse,
        evidence: { uncategorized_text: "The customer used the service; logs attached." },
      },
    ],
  ],
};

describe("a strict client's null means 'not given'", () => {
  it("the fixture is the SDK's rewrite of the schemas tools/list shows today", async () => {
    const live = await withServer("analytics-readonly", async (client) => {
      const listed = (await client.listTools()).tools;
      return listed;
    });
    for (const tool of live) {
      expect(shape(strictSchemaOf(tool.name)), tool.name).toEqual(
        shape(tool.inputSchema as JsonSchema),
      );
    }
    expect(STRICT.generator).toContain("convertSchemasToStrict = true");
  });

  it.each(Object.entries(CALLS))(
    "every %s tool, called with nulls for its optional arguments",
    async (role, calls) => {
      await withServer(role, async (client) => {
        for (const [tool, given] of calls) {
          const args = strictArgs(strictSchemaOf(tool), given);
          const result = await call(client, tool, args);
          expect(
            result.isError,
            `${tool} ${JSON.stringify(args)}: ${JSON.stringify(result.content)}`,
          ).toBeFalsy();
        }
      });
    },
  );

  it("issue_refund: the null form and the plain form are one call; exactly one of charge / payment_intent still holds", async () => {
    const strict = strictSchemaOf("issue_refund");
    await withServer("support-refunds", async (client) => {
      const charge = DEMO.charges.acmeSmallB;
      const first = okOf<{ id: string; spendguard: { replayed: boolean } }>(
        await call(
          client,
          "issue_refund",
          strictArgs(strict, { charge, amount: 1_500, reason: "duplicate" }),
        ),
      );
      expect(first.spendguard.replayed).toBe(false);
      const again = okOf<{ id: string; spendguard: { replayed: boolean } }>(
        await call(client, "issue_refund", { charge, amount: 1_500, reason: "duplicate" }),
      );
      expect(again).toMatchObject({ id: first.id, spendguard: { replayed: true } });
      const refunds = await admin.refunds.list({ charge, limit: 100 });
      expect(refunds.data.map((r) => r.amount)).toEqual([1_500]);

      for (const given of [{}, { charge, payment_intent: DEMO.paymentIntents.acmeSucceeded }]) {
        const error = errorOf(await call(client, "issue_refund", strictArgs(strict, given)));
        expect(error.code).toBe("invalid_input");
        expect(error.message).toContain("give exactly one of charge or payment_intent");
      }
      // A required argument sent as null is still missing.
      const missing = errorOf(await call(client, "lookup_charge", { charge: null }));
      expect(missing.code).toBe("invalid_input");
    });
  });
});
