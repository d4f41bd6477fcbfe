import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  childEnv,
  createAgentKey,
  httpFixture,
  revokeKey,
  runScenario,
  sdkScenarioClient,
} from "./harness.js";

/**
 * mcp-remote: how Claude Desktop (and other stdio-only clients) reach an HTTP server. It is
 * started exactly as the README's Claude Desktop entry starts it (`mcp-remote URL --header
 * "Authorization: Bearer ${SPENDGUARD_KEY}"`, the key in `env`), and an SDK client plays
 * Claude Desktop on its stdio.
 */

const MCP_REMOTE = join(import.meta.dirname, "node_modules/mcp-remote/dist/proxy.js");
const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

function proxy(url: string, key: string, transport: "http-only" | "sse-only") {
  let stderr = "";
  const stdio = new StdioClientTransport({
    command: process.execPath,
    args: [
      MCP_REMOTE,
      url,
      "--header",
      // mcp-remote expands ${VAR} from its environment: the key stays out of the args.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: mcp-remote's placeholder, not ours
      "Authorization: Bearer ${SPENDGUARD_KEY}",
      "--transport",
      transport,
    ],
    // Its OAuth state and lock files go to the test's data directory, not ~/.mcp-auth.
    env: childEnv(http.home(), {
      SPENDGUARD_KEY: key,
      MCP_REMOTE_CONFIG_DIR: join(http.home(), "mcp-auth"),
    }),
    stderr: "pipe",
  });
  stdio.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { stdio, stderr: () => stderr };
}

describe("mcp-remote", () => {
  it("Streamable HTTP (/mcp)", async () => {
    const { stdio } = proxy(http.url("/mcp"), await http.key("remote-http"), "http-only");
    const client = new Client({ name: "claude-desktop-stand-in", version: "0" });
    await client.connect(stdio);
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("SSE (/sse)", async () => {
    const { stdio } = proxy(http.url("/sse"), await http.key("remote-sse"), "sse-only");
    const client = new Client({ name: "claude-desktop-stand-in", version: "0" });
    await client.connect(stdio);
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("a revoked key: mcp-remote exits saying the key was revoked, with no sign-in to wait on", async () => {
    const made = await createAgentKey(http.home(), "remote-revoked");
    await revokeKey(http.home(), made.id);
    const { stdio, stderr } = proxy(http.url("/mcp"), made.key, "http-only");
    const client = new Client({ name: "claude-desktop-stand-in", version: "0" });
    const error = await client.connect(stdio).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    await client.close().catch(() => undefined);
    // The 401 sends mcp-remote to OAuth; registration refuses the key it still sends, with
    // the cause, and mcp-remote gives up. Claude Desktop shows "Connection closed" and, in
    // the server's log (mcp-remote's stderr), why.
    expect(error?.message).toContain("Connection closed");
    expect(stderr()).toMatch(
      /Fatal error: .*Dynamic Client Registration rejected \(HTTP 401\): .*"error":"invalid_token".*This key was revoked; ask the operator for a new one\./,
    );
    expect(stderr()).not.toContain("Please authorize this client");
  });
});
