import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { Admission, SessionRecord } from "../../src/store/store.js";
import {
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  INITIALIZE,
  MCP_ACCEPT,
  outcome,
  policyFile,
  raw,
  startHttpServer,
  tempHome,
} from "./harness.js";

/**
 * What a server facing the network must survive: requests for another host or from a
 * foreign web page, oversized and malformed bodies, bursts past a key's rate, clients
 * that go quiet, and a shutdown while a refund is under way. Each refusal is a clean HTTP
 * error with a JSON body, and the server keeps serving.
 */

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let keys: CreatedKey[];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  const policy = policyFile(home.dir, "support-refunds");
  // Small on purpose: 3 requests a second per key (bursts of 6), 1 s idle timeout.
  server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    args: ["--rate-limit", "3", "--idle-timeout", "1s", "--allow-origin", "https://app.example"],
  });
  keys = await Promise.all(
    ["h-body", "h-rate", "h-idle", "h-stop", "h-still-up"].map((name) =>
      createKey(home.dir, ["--agent", name, "--policy", policy]),
    ),
  );
});

afterAll(async () => {
  await server?.stop("SIGKILL");
  await sandbox?.close();
  home?.cleanup();
});

function keyOf(i: number): string {
  const made = keys[i];
  if (!made) throw new Error(`no key ${i}`);
  return made.key;
}

function post(key: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return raw(server.url, "/mcp", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: MCP_ACCEPT,
      Authorization: `Bearer ${key}`,
      ...headers,
    },
    body,
  });
}

/** node:http, because fetch will not send a Host header of our choosing. */
function withHost(host: string): Promise<{ status: number; code: string | undefined }> {
  const target = new URL("/mcp", server.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: "/mcp",
        method: "POST",
        headers: {
          Host: host,
          "Content-Type": "application/json",
          Accept: MCP_ACCEPT,
          Authorization: `Bearer ${keyOf(0)}`,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => {
          const refused = res.headers["content-type"] === "application/json";
          const body = refused ? (JSON.parse(text) as { error?: { data?: { code: string } } }) : {};
          resolve({ status: res.statusCode ?? 0, code: body.error?.data?.code });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(INITIALIZE));
  });
}

async function stateOf(id: string): Promise<SessionRecord | undefined> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.getSession(id);
  } finally {
    await store.close();
  }
}

async function admissionsOf(agent: string): Promise<Admission[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.listAdmissions({ agent });
  } finally {
    await store.close();
  }
}

describe("refusals", () => {
  it("oversized bodies, bad JSON, wrong content type, foreign Host and Origin, unknown paths: clean errors, and the server stays up", async () => {
    const key = keyOf(0);
    const big = new Uint8Array(2 * 1024 * 1024).fill(0x20);
    const cases = [
      ["413 declared", await post(key, big), 413, "body_too_large"],
      ["400 bad JSON", await post(key, '{"jsonrpc": "2.0", '), 400, "invalid_json"],
      [
        "415",
        await post(key, "{}", { "Content-Type": "text/plain" }),
        415,
        "unsupported_media_type",
      ],
      [
        "403 origin",
        await post(key, "{}", { Origin: "http://evil.example" }),
        403,
        "origin_not_allowed",
      ],
      ["404", await raw(server.url, "/admin", { method: "GET" }), 404, "not_found"],
      ["405", await raw(server.url, "/sse", { method: "POST" }), 405, "method_not_allowed"],
    ] as const;
    for (const [name, response, status, code] of cases) {
      expect(response.status, name).toBe(status);
      expect(response.body.error?.data?.code, name).toBe(code);
    }
    expect((await post(key, "{}", { Origin: "http://evil.example" })).body.error?.code).toBe(
      -32000,
    );
    expect((await post(key, "[")).body.error?.code).toBe(-32700);
    expect(await withHost("evil.example")).toEqual({ status: 403, code: "host_not_allowed" });

    await new Promise((r) => setTimeout(r, 2_100)); // the bucket refills
    // Allowed: a loopback page, an --allow-origin page, and the server's own names.
    for (const origin of ["http://localhost:5173", "https://app.example"]) {
      const response = await post(key, JSON.stringify(INITIALIZE), { Origin: origin });
      expect(response.status, origin).toBe(200);
    }
    const port = new URL(server.url).port;
    expect((await withHost(`localhost:${port}`)).status).toBe(200);

    // Still serving; a fresh key, since the checks above spent most of this key's burst.
    const agent = await connect(server.url, keyOf(4), "sse");
    expect((await agent.client.listTools()).tools.length).toBeGreaterThan(0);
    await agent.close();
  });

  it("a burst past the key's rate gets 429 with Retry-After; other keys are not slowed", async () => {
    const burst = await Promise.all(Array.from({ length: 12 }, () => post(keyOf(1), "{")));
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 400).length).toBeGreaterThanOrEqual(5);
    const limited = burst.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.body.error?.data?.code).toBe("rate_limited");
    expect(Number(limited[0]?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await post(keyOf(2), "{")).status).toBe(400);
  });
});

describe("lifecycle", () => {
  it("a session idle past --idle-timeout is ended; the client must start a new one", async () => {
    const agent = await connect(server.url, keyOf(2), "streamable");
    const id = agent.sessionId() ?? "";
    await new Promise((r) => setTimeout(r, 1_600));
    await expect(call(agent.client, "session_status")).rejects.toThrow();
    expect(await stateOf(id)).toMatchObject({ state: "ended", kill_reason: "idle timeout" });
    await agent.client.close();
  });

  it("SIGTERM lets a refund under way settle, ends the sessions and exits 0", async () => {
    const agent = await connect(server.url, keyOf(3), "streamable");
    const id = agent.sessionId() ?? "";
    sandbox.faults.add({ method: "POST", path: "/v1/refunds", kind: "latency", latencyMs: 1_500 });
    const refund = call(agent.client, "issue_refund", {
      charge: DEMO.charges.acmeLarge,
      amount: 2_500,
      reason: "duplicate",
    });
    await expect
      .poll(() => sandbox.requests.some((r) => r.method === "POST" && r.path === "/v1/refunds"), {
        timeout: 10_000,
      })
      .toBe(true);
    const exit = server.stop("SIGTERM");

    expect(outcome(await refund)).toMatchObject({ ok: true, data: { status: "succeeded" } });
    expect(await exit).toBe(0);
    expect((await admissionsOf("h-stop")).map((a) => a.state)).toEqual(["settled"]);
    expect(await stateOf(id)).toMatchObject({ state: "ended", kill_reason: "server shut down" });
    expect(server.logs("HTTP server stopped")).toHaveLength(1);
  });
});
