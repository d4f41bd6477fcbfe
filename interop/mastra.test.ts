import { MCPClient } from "@mastra/mcp";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  httpFixture,
  type Outcome,
  refusalIn,
  runScenario,
  type ScenarioClient,
} from "./harness.js";

/**
 * Mastra's MCPClient: `listTools()` gives Mastra tools named `<server>_<tool>` (what a
 * Mastra Agent is given); the test executes them directly. A refused call throws, with
 * spendguard's error in the message.
 */

const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

type Definition = ConstructorParameters<typeof MCPClient>[0]["servers"][string];

function mastraScenarioClient(client: MCPClient): ScenarioClient {
  const prefix = "spendguard_";
  return {
    toolNames: async () =>
      Object.keys(await client.listTools()).map((name) => name.slice(prefix.length)),
    async call(name, args): Promise<Outcome> {
      const tool = (await client.listTools())[`${prefix}${name}`];
      if (!tool?.execute) throw new Error(`no tool ${name}`);
      try {
        // An Agent's runtime fills the execution context; a direct call needs nothing in it.
        const context = {} as Parameters<typeof tool.execute>[1];
        return { ok: true, text: JSON.stringify(await tool.execute(args, context)) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return refusalIn(message) ?? { ok: false, code: "unparsed", message };
      }
    },
  };
}

async function scenario(id: string, spendguard: Definition) {
  const client = new MCPClient({ id, servers: { spendguard }, timeout: 30_000 });
  try {
    await runScenario(mastraScenarioClient(client));
  } finally {
    await client.disconnect();
  }
}

describe("Mastra (@mastra/mcp)", () => {
  it("stdio", async () => {
    await scenario("interop-stdio", http.stdio());
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key("mastra-http");
    await scenario("interop-http", {
      url: new URL(http.url("/mcp")),
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    });
  });

  // Mastra POSTs to an /sse URL as Streamable HTTP and does not fall back to SSE when that
  // is refused (405): a client bug. Point Mastra at /mcp.
  it.skip("SSE (/sse): Mastra POSTs to /sse and never falls back; use /mcp", () => {});
});
