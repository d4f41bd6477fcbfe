import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord } from "../../src/store/store.js";
import {
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  policyFile,
  rawSession,
  rpc,
  runCli,
  startHttpServer,
  tempHome,
} from "./harness.js";

/**
 * What an attacker sends by hand, below any SDK client: tools/call with arguments that
 * are not an object or that name `__proto__`, batches, and session ids sent to the other
 * transport's endpoint. Every tools/call is one audit row, and every refusal is a 4xx
 * with a stable code.
 */

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let keys: Record<string, CreatedKey>;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  const policy = policyFile(home.dir, "support-refunds");
  server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    // One message a second (bursts of two): a batch must not slip past it.
    args: ["--rate-limit", "1"],
  });
  const names = ["args", "proto", "batch-old", "batch-new", "mixed", "spare", "busy"];
  const made = await Promise.all(
    names.map((name) => createKey(home.dir, ["--agent", name, "--policy", policy])),
  );
  keys = Object.fromEntries(names.map((name, i) => [name, made[i] as CreatedKey]));
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

/** Waits out the one-a-second rate between raw requests of one key. */
const paced = () => new Promise((r) => setTimeout(r, 1_050));

const toolCall = (id: number, name: string, args: unknown) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

/** The tool error a tools/call answer carries (its text is `{"error": {...}}`). */
function toolError(message: { result?: Record<string, unknown> } | undefined) {
  const content = message?.result?.content as { text: string }[] | undefined;
  if (message?.result?.isError !== true || !content?.[0]) return undefined;
  return (JSON.parse(content[0].text) as { error: { code: string; message: string } }).error;
}

describe("tools/call arguments reach the guard as sent", () => {
  it("null, an array, a string, a number: each a tool error and one audit row", async () => {
    const session = await rawSession(server.url, key("args"));
    const sent: unknown[] = [[DEMO.charges.acmeLarge, 500], "ch_x", 42, null];
    const codes: (string | undefined)[] = [];
    for (const [i, args] of sent.entries()) {
      await paced();
      const answer = await session.post(toolCall(i + 1, "issue_refund", args));
      expect(answer.status, JSON.stringify(args)).toBe(200);
      codes.push(toolError(answer.messages[0])?.code);
    }
    expect(codes).toEqual(["invalid_input", "invalid_input", "invalid_input", "invalid_input"]);
    const rows = await auditOf("args");
    expect(rows).toHaveLength(sent.length);
    expect(rows.every((r) => r.code === "invalid_input" && r.tool === "issue_refund")).toBe(true);
    expect(sandbox.requests.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("__proto__, constructor and prototype are refused with invalid_input, never dropped", async () => {
    const session = await rawSession(server.url, key("proto"));
    const before = sandbox.requests.length;
    // JSON text, since JSON.stringify of an object literal would not carry `__proto__`.
    const bodies = [
      `{"charge":"${DEMO.charges.acmeLarge}","__proto__":{"amount":100}}`,
      `{"charge":"${DEMO.charges.acmeLarge}","amount":100,"constructor":{"prototype":{}}}`,
      `{"charge":"${DEMO.charges.acmeLarge}","amount":100,"prototype":1}`,
    ];
    const errors = [];
    for (const [i, args] of bodies.entries()) {
      await paced();
      const answer = await session.post(
        `{"jsonrpc":"2.0","id":${i + 1},"method":"tools/call","params":{"name":"issue_refund","arguments":${args}}}`,
      );
      errors.push(toolError(answer.messages[0]));
    }
    expect(errors.map((e) => e?.code)).toEqual(["invalid_input", "invalid_input", "invalid_input"]);
    expect(errors[0]?.message).toContain('"__proto__"');
    // Nothing reached Stripe: no lookup, and above all no full refund.
    expect(sandbox.requests.length).toBe(before);
    const rows = await auditOf("proto");
    expect(rows).toHaveLength(3);
    // The audit keeps the name as sent.
    expect(rows[0]?.args).toContain('"__proto__":{"amount":100}');
  });
});

describe("batches", () => {
  it("are refused on sessions of 2025-06-18 and later", async () => {
    const session = await rawSession(server.url, key("batch-new"), "2025-06-18");
    await new Promise((r) => setTimeout(r, 2_100)); // room for both messages
    const answer = await session.post([
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
    ]);
    expect(answer.status).toBe(400);
    expect(answer.error?.data?.code).toBe("batch_not_supported");
  });

  it("count one per message against the rate limit on 2025-03-26 sessions", async () => {
    const session = await rawSession(server.url, key("batch-old"), "2025-03-26");
    await new Promise((r) => setTimeout(r, 2_100)); // a full bucket: two messages
    const calls = Array.from({ length: 40 }, (_, i) =>
      toolCall(i + 1, "lookup_charge", { charge: DEMO.charges.acmeLarge }),
    );
    const before = (await auditOf("batch-old")).length;
    const answer = await session.post(calls);
    expect(answer.status).toBe(429);
    expect(answer.error?.data?.code).toBe("rate_limited");
    expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await auditOf("batch-old")).length).toBe(before);

    await new Promise((r) => setTimeout(r, 2_100));
    const two = await session.post(calls.slice(0, 2));
    expect(two.status).toBe(200);
    expect(two.messages.filter((m) => m.result)).toHaveLength(2);
  });
});

describe("session ids sent to the other transport", () => {
  it("answer 404 session_wrong_transport, and both sessions keep working", async () => {
    const streamable = await connect(server.url, key("mixed"), "streamable");
    const streamableId = streamable.sessionId() ?? "";
    await paced();
    const toMessages = await rpc(
      server.url,
      `/messages?sessionId=${encodeURIComponent(streamableId)}`,
      key("mixed"),
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
    );
    expect(toMessages.status).toBe(404);
    expect(toMessages.error?.data?.code).toBe("session_wrong_transport");

    // An SSE session's id, from the endpoint event its stream opens with.
    await paced();
    const stream = await fetch(new URL("/sse", server.url), {
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${key("mixed")}` },
    });
    const reader = stream.body?.getReader();
    const first = new TextDecoder().decode((await reader?.read())?.value);
    const sseId = /sessionId=([^\s&]+)/.exec(first)?.[1] ?? "";
    expect(sseId).not.toBe("");
    await paced();
    const toMcp = await rpc(
      server.url,
      "/mcp",
      key("mixed"),
      { jsonrpc: "2.0", id: 1, method: "tools/list" },
      { "Mcp-Session-Id": sseId },
    );
    expect(toMcp.status).toBe(404);
    expect(toMcp.error?.data?.code).toBe("session_wrong_transport");
    await reader?.cancel();

    await paced();
    expect((await streamable.client.listTools()).tools.length).toBeGreaterThan(0);
    await streamable.close();
    expect(server.stderr()).not.toMatch(/TypeError/);
  });
});

describe("sessions that never make a tool call", () => {
  let quick: HttpServer;
  beforeAll(async () => {
    quick = await startHttpServer({
      home: home.dir,
      env: {
        STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
        SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      },
      args: ["--empty-idle-timeout", "4s"],
    });
  });
  afterAll(async () => {
    await quick?.stop();
  });

  it("idle out after --empty-idle-timeout, and `spendguard sessions` lists them only with --empty", async () => {
    // The busy one calls first, so that on a slow machine its call still comes in time.
    const busy = await connect(quick.url, key("busy"), "streamable");
    await call(busy.client, "session_status");
    const spare = await connect(quick.url, key("spare"), "streamable");
    const [spareId, busyId] = [spare.sessionId() ?? "", busy.sessionId() ?? ""];
    await new Promise((r) => setTimeout(r, 5_500));

    const store = openSqliteStore(home.dir);
    try {
      expect(await store.getSession(spareId)).toMatchObject({
        state: "ended",
        kill_reason: "idle timeout (no tool call)",
      });
      expect((await store.getSession(busyId))?.state).toBe("active");
    } finally {
      await store.close();
    }
    const listed = await runCli(["sessions", "--json", "--agent", "spare", "--home", home.dir]);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const table = await runCli(["sessions", "--agent", "spare", "--home", home.dir]);
    expect(table.stdout).toContain("1 session(s) that never made a tool call not shown");
    const all = await runCli([
      "sessions",
      "--json",
      "--empty",
      "--agent",
      "spare",
      "--home",
      home.dir,
    ]);
    expect((JSON.parse(all.stdout) as { id: string }[]).map((v) => v.id)).toEqual([spareId]);
    await busy.close();
    await spare.client.close();
  });
});
