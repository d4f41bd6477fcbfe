import {
  getAllMcpTools,
  type MCPServer,
  MCPServerSSE,
  MCPServerStdio,
  MCPServerStreamableHttp,
  RunContext,
} from "@openai/agents";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  httpFixture,
  type Outcome,
  refusalIn,
  runScenario,
  type ScenarioClient,
  STEP_MS,
} from "./harness.js";

/**
 * The OpenAI Agents SDK's MCP server classes. An Agent would be given the tools
 * `getAllMcpTools` makes, with `convertSchemasToStrict` as OpenAI's strict function calling
 * wants them; no model is needed to call those tools directly.
 */

const http = httpFixture();
/** The SDK waits 5 s per request by default: too little for a cold start on a busy machine. */
const clientSessionTimeoutSeconds = STEP_MS / 1000;

beforeAll(() => http.setup());
afterAll(() => http.teardown());

function agentsScenarioClient(server: MCPServer): ScenarioClient {
  const tools = () => getAllMcpTools({ mcpServers: [server], convertSchemasToStrict: true });
  return {
    toolNames: async () => (await tools()).map((tool) => tool.name),
    async call(name, args): Promise<Outcome> {
      const tool = (await tools()).find((candidate) => candidate.name === name);
      if (tool?.type !== "function") throw new Error(`no function tool ${name}`);
      // What the model's tool call carries: the arguments as JSON text.
      const output = await tool.invoke(new RunContext(), JSON.stringify(args));
      const text = JSON.stringify(output);
      return refusalIn(text) ?? { ok: true, text };
    },
  };
}

async function scenario(server: MCPServer) {
  await server.connect();
  try {
    await runScenario(agentsScenarioClient(server));
  } finally {
    await server.close();
  }
}

describe("OpenAI Agents SDK (@openai/agents)", () => {
  it("stdio (MCPServerStdio)", async () => {
    await scenario(
      new MCPServerStdio({ name: "spendguard", clientSessionTimeoutSeconds, ...http.stdio() }),
    );
  });

  it("Streamable HTTP (MCPServerStreamableHttp, /mcp)", async () => {
    const key = await http.key("agents-http");
    await scenario(
      new MCPServerStreamableHttp({
        name: "spendguard",
        clientSessionTimeoutSeconds,
        url: http.url("/mcp"),
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      }),
    );
  });

  it("SSE (MCPServerSSE, /sse)", async () => {
    const key = await http.key("agents-sse");
    await scenario(
      new MCPServerSSE({
        name: "spendguard",
        clientSessionTimeoutSeconds,
        url: http.url("/sse"),
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
      }),
    );
  });
});
