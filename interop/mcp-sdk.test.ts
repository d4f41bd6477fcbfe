import {
  Client as ClientV2,
  RegistrationRejectedError,
  SSEClientTransport as SSEClientTransportV2,
  StreamableHTTPClientTransport as StreamableHTTPClientTransportV2,
} from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioClientTransportV2 } from "@modelcontextprotocol/client/stdio";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentKey,
  httpFixture,
  revokeKey,
  runScenario,
  sdkScenarioClient,
} from "./harness.js";
import { MemoryProvider } from "./oauth.js";

/** The official TypeScript SDK's clients, v1 (`@modelcontextprotocol/sdk`) and v2. */

const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

const headers = (key: string) => ({ Authorization: `Bearer ${key}` });

describe("MCP TypeScript SDK v1 client", () => {
  it("stdio", async () => {
    const client = new Client({ name: "interop-v1", version: "0" });
    await client.connect(new StdioClientTransport({ ...http.stdio(), stderr: "pipe" }));
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key("sdk-v1-http");
    const client = new Client({ name: "interop-v1", version: "0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(http.url("/mcp")), {
        requestInit: { headers: headers(key) },
      }),
    );
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("SSE (/sse)", async () => {
    const key = await http.key("sdk-v1-sse");
    const client = new Client({ name: "interop-v1", version: "0" });
    await client.connect(
      new SSEClientTransport(new URL(http.url("/sse")), { requestInit: { headers: headers(key) } }),
    );
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });
});

describe("MCP TypeScript SDK v2 client (@modelcontextprotocol/client)", () => {
  it("stdio", async () => {
    const client = new ClientV2({ name: "interop-v2", version: "0" });
    await client.connect(new StdioClientTransportV2({ ...http.stdio(), stderr: "pipe" }));
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key("sdk-v2-http");
    const client = new ClientV2({ name: "interop-v2", version: "0" });
    await client.connect(
      new StreamableHTTPClientTransportV2(new URL(http.url("/mcp")), {
        requestInit: { headers: headers(key) },
      }),
    );
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("SSE (/sse)", async () => {
    const key = await http.key("sdk-v2-sse");
    const client = new ClientV2({ name: "interop-v2", version: "0" });
    await client.connect(
      new SSEClientTransportV2(new URL(http.url("/sse")), {
        requestInit: { headers: headers(key) },
      }),
    );
    try {
      await runScenario(sdkScenarioClient(client));
    } finally {
      await client.close();
    }
  });

  it("a revoked key: the error says the key was revoked, in both negotiation modes", async () => {
    const made = await createAgentKey(http.home(), "sdk-v2-revoked");
    await revokeKey(http.home(), made.id);
    const failure = async (options: ConstructorParameters<typeof ClientV2>[1]) => {
      const client = new ClientV2({ name: "interop-v2", version: "0" }, options);
      const transport = new StreamableHTTPClientTransportV2(new URL(http.url("/mcp")), {
        requestInit: { headers: headers(made.key) },
      });
      const error = await client.connect(transport).then(
        () => undefined,
        (thrown: unknown) => thrown as Error & { data?: { status?: number; text?: string } },
      );
      await client.close().catch(() => undefined);
      if (!error) throw new Error("a revoked key connected");
      return error;
    };
    // The default (2025 revisions): the message carries the server's answer.
    const legacy = await failure(undefined);
    expect(legacy.message).toContain("This key was revoked; ask the operator for a new one.");
    // Version negotiation (2026-07-28): the SDK's message is fixed ("the server requires
    // authorization (HTTP 401)"); the answer it got, with the cause, is in error.data.
    const negotiated = await failure({ capabilities: {}, versionNegotiation: { mode: "auto" } });
    expect(negotiated.message).toContain("HTTP 401");
    expect(negotiated.data).toMatchObject({
      status: 401,
      text: expect.stringContaining("This key was revoked"),
    });
  });

  it("a revoked key beside an OAuth provider: registration refuses it with the cause, and no one is sent to sign in", async () => {
    const made = await createAgentKey(http.home(), "sdk-v2-revoked-oauth");
    await revokeKey(http.home(), made.id);
    // An app that takes a configured header and signs in with OAuth when it is refused.
    const provider = new MemoryProvider("http://127.0.0.1:9/callback");
    const client = new ClientV2({ name: "interop-v2", version: "0" });
    const transport = new StreamableHTTPClientTransportV2(new URL(http.url("/mcp")), {
      authProvider: provider,
      requestInit: { headers: headers(made.key) },
    });
    const error = await client.connect(transport).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    await client.close().catch(() => undefined);
    expect(error).toBeInstanceOf(RegistrationRejectedError);
    expect(error?.message).toMatch(
      /^Dynamic Client Registration rejected \(HTTP 401\): .*This key was revoked; ask the operator for a new one\./,
    );
    expect(provider.redirects).toBe(0);
  });
});
