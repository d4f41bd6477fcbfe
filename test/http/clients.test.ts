import {
  SSEClientTransport,
  StreamableHTTPClientTransport,
  Client as V2Client,
} from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport as V1SSE } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport as V1Stdio } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as V1Streamable } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord } from "../../src/store/store.js";
import {
  CLI,
  type CreatedKey,
  createKey,
  type HttpServer,
  outcome,
  policyFile,
  runCli,
  startHttpServer,
  tempHome,
} from "./harness.js";

/**
 * The clients spendguard must serve, each on every transport it has: the v1 SDK's client
 * (revisions up to 2025-11-25) over stdio, Streamable HTTP and SSE; the v2 SDK's client on
 * 2025-11-25 over the same three, pinned to 2026-07-28 over stdio and Streamable HTTP,
 * and negotiating on its own (`auto`: a server/discover probe, which must not fail).
 * Then the 2026-07-28 session mapping: one guard session per agent key, kills that a new
 * connection cannot shake off, and `sessions_per_day`.
 */

type Revision = "2025-11-25" | "2026-07-28" | "auto";
type Wire = "stdio" | "streamable" | "sse";

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let policy: string;
let limited: string;
let keys: Record<string, CreatedKey>;

const COMBOS: { sdk: "v1" | "v2"; wire: Wire; revision: Revision }[] = [
  { sdk: "v1", wire: "stdio", revision: "2025-11-25" },
  { sdk: "v1", wire: "streamable", revision: "2025-11-25" },
  { sdk: "v1", wire: "sse", revision: "2025-11-25" },
  { sdk: "v2", wire: "stdio", revision: "2025-11-25" },
  { sdk: "v2", wire: "streamable", revision: "2025-11-25" },
  { sdk: "v2", wire: "sse", revision: "2025-11-25" },
  { sdk: "v2", wire: "stdio", revision: "2026-07-28" },
  { sdk: "v2", wire: "streamable", revision: "2026-07-28" },
  { sdk: "v2", wire: "stdio", revision: "auto" },
  { sdk: "v2", wire: "streamable", revision: "auto" },
];
const agentOf = (c: (typeof COMBOS)[number]) => `${c.sdk}-${c.wire}-${c.revision}`;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  policy = policyFile(home.dir, "support-refunds");
  limited = policyFile(home.dir, "support-refunds", { name: "one-a-day", sessions_per_day: 1 });
  server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    args: ["--rate-limit", "200"],
  });
  const wanted: Record<string, string[]> = {
    ...Object.fromEntries(
      COMBOS.filter((c) => c.wire !== "stdio").map((c) => [
        agentOf(c),
        ["--agent", agentOf(c), "--policy", policy],
      ]),
    ),
    shared: ["--agent", "shared", "--policy", policy],
    killed: ["--agent", "killed", "--policy", policy],
    "limit-legacy": ["--agent", "limit-legacy", "--policy", limited],
    "limit-modern": ["--agent", "limit-modern", "--policy", limited],
  };
  const made = await Promise.all(Object.values(wanted).map((args) => createKey(home.dir, args)));
  keys = Object.fromEntries(Object.keys(wanted).map((name, i) => [name, made[i] as CreatedKey]));
});

afterAll(async () => {
  await server?.stop();
  await sandbox?.close();
  home?.cleanup();
});

function key(name: string): string {
  const made = keys[name];
  if (!made) throw new Error(`no key ${name}`);
  return made.key;
}

async function auditOf(agent: string): Promise<AuditRecord[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.queryAudit({ agent });
  } finally {
    await store.close();
  }
}

/** Either SDK's client: the calls these tests make have the same shape in both. */
interface AnyClient {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listTools(): Promise<{ tools: { name: string }[] }>;
  close(): Promise<void>;
}

function v2Client(revision: Revision): V2Client {
  const negotiation =
    revision === "2025-11-25"
      ? {}
      : {
          versionNegotiation: { mode: revision === "auto" ? ("auto" as const) : { pin: revision } },
        };
  return new V2Client({ name: "clients-test", version: "0.0.0" }, negotiation);
}

function stdioParams(agent: string, agentPolicy = policy) {
  return {
    command: process.execPath,
    args: [CLI, "serve", "--policy", agentPolicy, "--agent", agent],
    env: {
      PATH: process.env.PATH ?? "",
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_HOME: home.dir,
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    stderr: "pipe" as const,
  };
}

async function connectAs(
  sdk: "v1" | "v2",
  wire: Wire,
  revision: Revision,
  agent: string,
): Promise<{ client: AnyClient; era?: () => string | undefined }> {
  const headers = { Authorization: `Bearer ${wire === "stdio" ? "" : key(agent)}` };
  const mcp = new URL("/mcp", server.url);
  const sse = new URL("/sse", server.url);
  if (sdk === "v1") {
    const client = new V1Client({ name: "clients-test-v1", version: "0.0.0" });
    const transport =
      wire === "stdio"
        ? new V1Stdio(stdioParams(agent))
        : wire === "streamable"
          ? new V1Streamable(mcp, { requestInit: { headers } })
          : new V1SSE(sse, { requestInit: { headers } });
    await client.connect(transport);
    return { client: client as unknown as AnyClient };
  }
  const client = v2Client(revision);
  const transport =
    wire === "stdio"
      ? new StdioClientTransport(stdioParams(agent))
      : wire === "streamable"
        ? new StreamableHTTPClientTransport(mcp, { requestInit: { headers } })
        : new SSEClientTransport(sse, { requestInit: { headers } });
  await client.connect(transport);
  return { client: client as unknown as AnyClient, era: () => client.getProtocolEra() };
}

describe("every client on every transport it has", () => {
  for (const combo of COMBOS) {
    it(`${combo.sdk} client, ${combo.wire}, ${combo.revision}: lists, reads and refunds under the guard`, async () => {
      const agent = agentOf(combo);
      const { client, era } = await connectAs(combo.sdk, combo.wire, combo.revision, agent);
      const names = (await client.listTools()).tools.map((t) => t.name);
      const charge = outcome(
        (await client.callTool({
          name: "lookup_charge",
          arguments: { charge: DEMO.charges.acmeLarge },
        })) as Parameters<typeof outcome>[0],
      );
      const refund = outcome(
        (await client.callTool({
          name: "issue_refund",
          arguments: { charge: DEMO.charges.acmeLarge, amount: 100, reason: "duplicate" },
        })) as Parameters<typeof outcome>[0],
      );
      const negotiated = era?.();
      await client.close();
      expect(names).toContain("issue_refund");
      expect(charge.ok).toBe(true);
      expect(refund).toMatchObject({ ok: true, data: { status: "succeeded" } });
      if (combo.sdk === "v2") {
        // A 2025 client stays on 2025; a pinned or negotiating one reaches 2026-07-28.
        expect(negotiated).toBe(combo.revision === "2025-11-25" ? "legacy" : "modern");
      }
      const rows = await auditOf(agent);
      expect(rows.map((r) => [r.tool, r.decision])).toEqual([
        ["lookup_charge", "allow"],
        ["issue_refund", "allow"],
      ]);
      expect(new Set(rows.map((r) => r.session)).size).toBe(1);
    });
  }

  it("a negotiating client's server/discover probe over HTTP is answered, not refused", async () => {
    const before = server.stderr().length;
    const { client } = await connectAs("v2", "streamable", "auto", "shared");
    await client.close();
    const since = server.stderr().slice(before);
    expect(since).not.toMatch(/"level":50/);
  });
});

describe("2026-07-28: guard sessions without transport sessions", () => {
  const status = async (client: AnyClient) => {
    const result = outcome(
      (await client.callTool({ name: "session_status", arguments: {} })) as Parameters<
        typeof outcome
      >[0],
    );
    if (!result.ok) return { code: result.code, session: undefined };
    return { code: "ok", session: result.data.session_id as string };
  };

  it("an agent key's requests share one guard session, across connections", async () => {
    const first = await connectAs("v2", "streamable", "2026-07-28", "shared");
    const second = await connectAs("v2", "streamable", "2026-07-28", "shared");
    const a = await status(first.client);
    const b = await status(first.client);
    const c = await status(second.client);
    await first.client.close();
    await second.client.close();
    expect(a.session).toMatch(/^ses_/);
    expect([b.session, c.session]).toEqual([a.session, a.session]);
  });

  it("a kill is seen on the next call, and a new connection does not escape it", async () => {
    const agent = await connectAs("v2", "streamable", "2026-07-28", "killed");
    const { session } = await status(agent.client);
    const requests = sandbox.requests.length;
    expect((await runCli(["kill", session ?? "", "--home", home.dir])).code).toBe(0);
    const refund = {
      name: "issue_refund",
      arguments: { charge: DEMO.charges.acmeLarge, amount: 100, reason: "duplicate" },
    };
    const next = outcome((await agent.client.callTool(refund)) as Parameters<typeof outcome>[0]);
    await agent.client.close();
    const again = await connectAs("v2", "streamable", "2026-07-28", "killed");
    const retry = outcome((await again.client.callTool(refund)) as Parameters<typeof outcome>[0]);
    await again.client.close();
    expect(next).toMatchObject({ ok: false, code: "session_killed" });
    expect(retry).toMatchObject({ ok: false, code: "session_killed" });
    expect(sandbox.requests.length).toBe(requests);
  });

  it("sessions_per_day bounds new sessions on every revision and transport", async () => {
    // 2025-11-25 over Streamable HTTP: the second session is refused when it opens.
    const first = await connectAs("v2", "streamable", "2025-11-25", "limit-legacy");
    expect((await status(first.client)).code).toBe("ok");
    await expect(connectAs("v2", "streamable", "2025-11-25", "limit-legacy")).rejects.toThrow(
      /sessions_per_day|429/,
    );
    await first.client.close();

    // 2026-07-28: ending the session does not buy a fresh one past the limit.
    const modern = await connectAs("v2", "streamable", "2026-07-28", "limit-modern");
    expect((await status(modern.client)).code).toBe("ok");
    await modern.client.callTool({ name: "end_session", arguments: {} });
    await expect(modern.client.callTool({ name: "session_status", arguments: {} })).rejects.toThrow(
      /sessions_per_day/,
    );
    await modern.client.close();

    // stdio: one process, one session; the second process of the day gets none.
    const stdioFirst = new V2Client({ name: "clients-test", version: "0.0.0" });
    await stdioFirst.connect(new StdioClientTransport(stdioParams("limit-stdio", limited)));
    expect((await status(stdioFirst as unknown as AnyClient)).code).toBe("ok");
    await stdioFirst.close();
    const second = new StdioClientTransport(stdioParams("limit-stdio", limited));
    let stderr = "";
    second.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await expect(
      new V2Client({ name: "clients-test", version: "0.0.0" }).connect(second),
    ).rejects.toThrow();
    expect(stderr).toMatch(/sessions_per_day: 1/);
  });
});
