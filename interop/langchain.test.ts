import { type Connection, MultiServerMCPClient } from "@langchain/mcp-adapters";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  httpFixture,
  type Outcome,
  refusalIn,
  runScenario,
  type ScenarioClient,
} from "./harness.js";

/**
 * LangChain's MCP adapters: `MultiServerMCPClient` turns spendguard's tools into LangChain
 * tools (what a LangGraph agent is given); the test invokes them directly. A refused call
 * throws a ToolException whose message holds spendguard's error.
 */

const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

function langchainScenarioClient(client: MultiServerMCPClient): ScenarioClient {
  return {
    toolNames: async () => (await client.getTools()).map((tool) => tool.name),
    async call(name, args): Promise<Outcome> {
      const tool = (await client.getTools()).find((candidate) => candidate.name === name);
      if (!tool) throw new Error(`no tool ${name}`);
      try {
        const result: unknown = await tool.invoke(args);
        return { ok: true, text: typeof result === "string" ? result : JSON.stringify(result) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return refusalIn(message) ?? { ok: false, code: "unparsed", message };
      }
    },
  };
}

async function scenario(spendguard: Connection) {
  const client = new MultiServerMCPClient({ throwOnLoadError: true, mcpServers: { spendguard } });
  try {
    await runScenario(langchainScenarioClient(client));
  } finally {
    await client.close();
  }
}

describe("LangChain (@langchain/mcp-adapters)", () => {
  it("stdio", async () => {
    await scenario({ transport: "stdio", ...http.stdio(), stderr: "pipe" });
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key("langchain-http");
    await scenario({
      transport: "http",
      url: http.url("/mcp"),
      headers: { Authorization: `Bearer ${key}` },
    });
  });

  it("SSE (/sse)", async () => {
    const key = await http.key("langchain-sse");
    await scenario({
      transport: "sse",
      url: http.url("/sse"),
      headers: { Authorization: `Bearer ${key}` },
    });
  });
});
