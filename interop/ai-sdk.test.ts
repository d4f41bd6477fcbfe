import { createMCPClient, type MCPClient } from "@ai-sdk/mcp";
import { Experimental_StdioMCPTransport } from "@ai-sdk/mcp/mcp-stdio";
import { afterAll, beforeAll, describe, it } from "vitest";
import { httpFixture, runScenario, type ScenarioClient, sdkOutcome } from "./harness.js";

/**
 * The Vercel AI SDK's MCP client (`createMCPClient` from `@ai-sdk/mcp`; `ai` itself no
 * longer has one). A model would call `tools()`' tools; here the test calls `execute`.
 */

const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

function aiScenarioClient(client: MCPClient): ScenarioClient {
  return {
    toolNames: async () => Object.keys(await client.tools()),
    async call(name, args) {
      const tool = (await client.tools())[name];
      if (!tool) throw new Error(`no tool ${name}`);
      return sdkOutcome(
        await tool.execute(args, { toolCallId: "interop", messages: [], context: {} }),
      );
    },
  };
}

async function scenario(client: MCPClient) {
  try {
    await runScenario(aiScenarioClient(client));
  } finally {
    await client.close();
  }
}

describe("Vercel AI SDK (@ai-sdk/mcp)", () => {
  it("stdio", async () => {
    const transport = new Experimental_StdioMCPTransport({
      ...http.stdio(),
      stderr: "pipe",
    });
    await scenario(await createMCPClient({ transport }));
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key("ai-sdk-http");
    await scenario(
      await createMCPClient({
        transport: {
          type: "http",
          url: http.url("/mcp"),
          headers: { Authorization: `Bearer ${key}` },
        },
      }),
    );
  });

  it("SSE (/sse)", async () => {
    const key = await http.key("ai-sdk-sse");
    await scenario(
      await createMCPClient({
        transport: {
          type: "sse",
          url: http.url("/sse"),
          headers: { Authorization: `Bearer ${key}` },
        },
      }),
    );
  });
});
