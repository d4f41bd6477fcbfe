import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { getAllMcpTools, MCPServerStreamableHttp, RunContext } from "@openai/agents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHARGES, httpFixture, STEP_MS, sdkOutcome } from "./harness.js";

/**
 * Optional arguments sent as `null` (#15). OpenAI's strict function calling makes every
 * property required and nullable, so a model fills the arguments it means to leave out
 * with `null`: `{"charge": "ch_…", "payment_intent": null, …}`. spendguard must read an
 * optional `null` as "not given", keep "exactly one of charge or payment_intent", and
 * derive the same idempotency key for `null` as for absent.
 */

const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

async function rawClient(agent: string): Promise<Client> {
  const key = await http.key(agent);
  const client = new Client({ name: "strict-client", version: "0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(http.url("/mcp")), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

const refund = async (client: Client, args: Record<string, unknown>) => {
  const result = await client.callTool({ name: "issue_refund", arguments: args });
  return { outcome: sdkOutcome(result), structured: result.structuredContent };
};

describe("the OpenAI Agents SDK's strict tools (convertSchemasToStrict)", () => {
  it("rewrite issue_refund's schema: every property required and nullable, nothing else allowed", async () => {
    const key = await http.key("strict-agents-schema");
    const server = new MCPServerStreamableHttp({
      name: "spendguard",
      // Its default of 5 s per request is too little on a busy machine.
      clientSessionTimeoutSeconds: STEP_MS / 1000,
      url: http.url("/mcp"),
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
    await server.connect();
    try {
      const tools = await getAllMcpTools({ mcpServers: [server], convertSchemasToStrict: true });
      const tool = tools.find((candidate) => candidate.name === "issue_refund");
      if (tool?.type !== "function") throw new Error("no issue_refund function tool");
      expect(tool.strict).toBe(true);
      const schema = tool.parameters as {
        required: string[];
        additionalProperties: boolean;
        properties: Record<string, { anyOf?: unknown[] }>;
      };
      expect(schema.required.sort()).toEqual(["amount", "charge", "payment_intent", "reason"]);
      expect(schema.additionalProperties).toBe(false);
      for (const [name, property] of Object.entries(schema.properties)) {
        expect(property.anyOf, name).toContainEqual({ type: "null" });
      }

      // A model's call under that schema, through the SDK's tool.
      const output = await tool.invoke(
        new RunContext(),
        JSON.stringify({
          charge: CHARGES.acmeLarge,
          payment_intent: null,
          amount: 900,
          reason: "duplicate",
        }),
      );
      expect(JSON.stringify(output)).toContain("Refunded $9.00");
    } finally {
      await server.close();
    }
  });
});

/** The guard reads an optional argument sent as `null` as not given (#15). */
describe("a strict client that sends the nulls as the model wrote them", () => {
  it("payment_intent: null beside a charge means not given: the refund goes through", async () => {
    const client = await rawClient("strict-raw-refund");
    try {
      const { outcome } = await refund(client, {
        charge: CHARGES.acmeLarge,
        payment_intent: null,
        amount: 700,
        reason: "duplicate",
      });
      expect(outcome).toMatchObject({ ok: true, text: expect.stringContaining("Refunded $7.00") });
    } finally {
      await client.close();
    }
  });

  it("reason: null is refused exactly as a missing reason is (the policy requires one)", async () => {
    const client = await rawClient("strict-raw-reason");
    try {
      const absent = await refund(client, { charge: CHARGES.acmeLarge, amount: 700 });
      const nulled = await refund(client, {
        charge: CHARGES.acmeLarge,
        payment_intent: null,
        amount: 700,
        reason: null,
      });
      expect(absent.outcome).toMatchObject({ ok: false, code: "param_not_allowed" });
      expect(nulled.outcome).toEqual(absent.outcome);
    } finally {
      await client.close();
    }
  });

  it("charge: null and payment_intent: null still break 'exactly one of them'", async () => {
    const client = await rawClient("strict-raw-neither");
    try {
      const { outcome } = await refund(client, {
        charge: null,
        payment_intent: null,
        amount: 700,
        reason: "duplicate",
      });
      expect(outcome).toMatchObject({
        ok: false,
        code: "invalid_input",
        message: expect.stringContaining("exactly one of charge or payment_intent"),
      });
    } finally {
      await client.close();
    }
  });

  it("null and absent make the same idempotency key: repeating with a null replays the refund", async () => {
    const client = await rawClient("strict-raw-replay");
    try {
      const args = { charge: CHARGES.acmeLarge, amount: 800, reason: "duplicate" };
      const first = await refund(client, args);
      const again = await refund(client, { ...args, payment_intent: null });
      expect(first.outcome.ok).toBe(true);
      expect(again.outcome.ok).toBe(true);
      expect(again.structured).toMatchObject({
        id: (first.structured as { id: string }).id,
        spendguard: { replayed: true },
      });
    } finally {
      await client.close();
    }
  });
});
