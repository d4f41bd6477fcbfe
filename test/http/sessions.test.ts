import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR_TOOLS } from "../../src/operator/tools/index.js";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord, SessionRecord } from "../../src/store/store.js";
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
  runCli,
  startHttpServer,
  tempHome,
  type Wire,
} from "./harness.js";

/**
 * One HTTP server on 127.0.0.1 against the sandbox, driven by the SDK's Streamable HTTP
 * and SSE clients: each key's sessions get the key's agent and policy, caps per agent are
 * shared by its sessions, refused keys open nothing, and an operator session stops an
 * agent's session with nothing more reaching Stripe.
 */

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
/** support-refunds with $60 per session and $90 per day. */
let supportPolicy: string;
/** Fewer tools, smaller caps: $10 per call, $25 per session. */
let litePolicy: string;
/** Made with the real CLI before the tests, in parallel (each run of it takes a while). */
let keys: Record<string, CreatedKey>;
let keysMadeAt: number;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  supportPolicy = policyFile(home.dir, "support-refunds", {
    caps: { currency: "usd", per_call: 100, per_session: 60, per_day: 90 },
  });
  litePolicy = policyFile(home.dir, "support-refunds", {
    name: "refunds-lite",
    tools: { lookup_charge: null, issue_refund: { params: { reason: { in: ["duplicate"] } } } },
    caps: { currency: "usd", per_call: 10, per_session: 25, per_day: 1000 },
  });
  server = await startHttpServer({
    home: home.dir,
    env: {
      // One upstream key for every agent: the demo support role's restricted key.
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    args: ["--rate-limit", "200"],
  });
  const wanted: Record<string, string[]> = {
    "t1-streamable": agent("t1-streamable"),
    "t1-sse": agent("t1-sse"),
    alpha: agent("alpha"),
    bravo: agent("bravo", litePolicy),
    "t3-exp": [...agent("t3-exp"), "--expires", "1s"],
    "t3-rev": agent("t3-rev"),
    "t3-mid": agent("t3-mid"),
    "t3-owner": agent("t3-owner"),
    "t3-other": agent("t3-other"),
    "t4-agent": agent("t4-agent"),
    "t4-pair": agent("t4-pair"),
    olivia: ["--operator", "--name", "olivia"],
    operator: ["--operator"],
  };
  const made = await Promise.all(Object.values(wanted).map((args) => createKey(home.dir, args)));
  keysMadeAt = Date.now();
  keys = Object.fromEntries(Object.keys(wanted).map((name, i) => [name, made[i] as CreatedKey]));
});

afterAll(async () => {
  await server?.stop();
  await sandbox?.close();
  home?.cleanup();
});

const agent = (name: string, policy = supportPolicy) => ["--agent", name, "--policy", policy];

function key(name: string): CreatedKey {
  const made = keys[name];
  if (!made) throw new Error(`no key made for ${name}`);
  return made;
}

async function sessions(): Promise<SessionRecord[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.listSessions({});
  } finally {
    await store.close();
  }
}

async function audit(): Promise<AuditRecord[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.queryAudit({});
  } finally {
    await store.close();
  }
}

const refund = (amount: number, charge: string = DEMO.charges.acmeLarge) => ({
  charge,
  amount,
  reason: "duplicate",
});

describe("both transports", () => {
  it.each<Wire>(["streamable", "sse"])(
    "%s: lists the policy's tools and runs a refund; closing ends the guard session",
    async (wire) => {
      const agent = await connect(server.url, key(`t1-${wire}`).key, wire);
      const { tools } = await agent.client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining(["issue_refund", "lookup_charge", "session_status"]),
      );
      expect(names).not.toContain("kill_session");

      const done = outcome(
        await call(agent.client, "issue_refund", refund(wire === "sse" ? 1001 : 1000)),
      );
      expect(done.ok).toBe(true);
      const status = outcome(await call(agent.client, "session_status"));
      if (!status.ok) throw new Error(status.message);
      expect(status.data.agent).toBe(`t1-${wire}`);
      const sessionId = String(status.data.session_id);
      if (wire === "streamable") expect(agent.sessionId()).toBe(sessionId);

      await agent.close();
      await expect
        .poll(async () => (await sessions()).find((s) => s.id === sessionId)?.state)
        .toBe("ended");
    },
  );
});

describe("agents", () => {
  it("two agents with different policies, in parallel: each its own tools and caps; an agent's sessions share its daily cap", async () => {
    const [alpha, bravo] = [key("alpha"), key("bravo")];
    const [a1, b1] = await Promise.all([
      connect(server.url, alpha.key, "streamable"),
      connect(server.url, bravo.key, "sse"),
    ]);
    const toolsOf = async (c: typeof a1) => (await c.client.listTools()).tools.map((t) => t.name);
    expect(await toolsOf(a1)).toContain("list_charges");
    expect(await toolsOf(b1)).toEqual([
      "lookup_charge",
      "issue_refund",
      "session_status",
      "end_session",
    ]);

    const codes = async (c: typeof a1, calls: Record<string, unknown>[]) => {
      const out: string[] = [];
      for (const args of calls) {
        const result = outcome(await call(c.client, "issue_refund", args));
        out.push(result.ok ? "ok" : result.code);
      }
      return out;
    };
    const [alphaFirst, bravoCodes] = await Promise.all([
      // $50 then $15: past alpha's $60 session cap.
      codes(a1, [refund(5000), refund(1500)]),
      // $11 is past bravo's $10 per call; $10 + $10 then $6 is past its $25 per session.
      codes(b1, [refund(1100), refund(1000), refund(999), refund(600)]),
    ]);
    expect(alphaFirst).toEqual(["ok", "cap_session"]);
    expect(bravoCodes).toEqual(["cap_per_call", "ok", "ok", "cap_session"]);

    // A second session of alpha: its own session cap, but the day's $90 is shared.
    const a2 = await connect(server.url, alpha.key, "sse");
    expect(await codes(a2, [refund(3000), refund(2000)])).toEqual(["ok", "cap_day"]);
    const status = outcome(await call(a2.client, "session_status"));
    if (!status.ok) throw new Error(status.message);
    expect(status.data.caps).toMatchObject({ per_day: { used: 8000, left: 1000 } });
    await Promise.all([a1.close(), a2.close(), b1.close()]);
  });
});

describe("keys", () => {
  const initialize = (authorization?: string) =>
    raw(server.url, "/mcp", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: MCP_ACCEPT,
        ...(authorization ? { Authorization: authorization } : {}),
      },
      body: JSON.stringify(INITIALIZE),
    });

  it("no, wrong, expired and revoked keys get 401 and no session", async () => {
    const [expiring, revoked] = [key("t3-exp"), key("t3-rev")];
    expect((await runCli(["keys", "revoke", revoked.id, "--home", home.dir])).code).toBe(0);
    await new Promise((r) => setTimeout(r, Math.max(0, keysMadeAt + 1_100 - Date.now())));
    const before = (await sessions()).length;

    // RFC 6750 §3.1: no error code without a credential; invalid_token and the cause with one.
    // RFC 9728 §5.1: every challenge names the resource metadata (where OAuth clients start)
    // and the scope to ask for.
    const challenge = `Bearer realm="spendguard", resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp", scope="spendguard"`;
    const bad = (description: string) =>
      `${challenge}, error="invalid_token", error_description="${description}"`;
    const cases: [string | undefined, string, string][] = [
      [undefined, "key_missing", challenge],
      ["Basic dXNlcjpwYXNz", "key_missing", challenge],
      ["Bearer not-a-key", "key_invalid", bad("This key is not valid.")],
      [`Bearer sg_agent_${"A".repeat(43)}`, "key_invalid", bad("This key is not valid.")],
      [
        `Bearer ${expiring.key}`,
        "key_expired",
        bad("This key has expired; ask the operator for a new one."),
      ],
      [
        `Bearer ${revoked.key}`,
        "key_revoked",
        bad("This key was revoked; ask the operator for a new one."),
      ],
    ];
    for (const [authorization, code, challenge] of cases) {
      const response = await initialize(authorization);
      expect(response.status, code).toBe(401);
      expect(response.body.error?.data?.code).toBe(code);
      expect(response.headers.get("www-authenticate")).toBe(challenge);
    }
    // What the SDK's client says: the body's message is in its error.
    await expect(connect(server.url, revoked.key, "streamable")).rejects.toThrow(
      "This key was revoked",
    );
    await expect(connect(server.url, revoked.key, "sse")).rejects.toThrow(/401/);
    expect((await sessions()).length).toBe(before);
  });

  it("revoking a key mid-session stops the very next call and ends the session", async () => {
    const mid = key("t3-mid");
    const agent = await connect(server.url, mid.key, "streamable");
    const status = outcome(await call(agent.client, "session_status"));
    if (!status.ok) throw new Error(status.message);
    const requests = sandbox.requests.length;

    expect((await runCli(["keys", "revoke", mid.id, "--home", home.dir])).code).toBe(0);
    await expect(call(agent.client, "issue_refund", refund(700))).rejects.toThrow(/401|key/i);
    expect(sandbox.requests.length).toBe(requests);
    expect((await sessions()).find((s) => s.id === status.data.session_id)?.state).toBe("ended");
    await agent.client.close();
  });

  it("a session answers only the key that opened it", async () => {
    const [owner, other] = [key("t3-owner"), key("t3-other")];
    const agent = await connect(server.url, owner.key, "streamable");
    const response = await raw(server.url, "/mcp", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: MCP_ACCEPT,
        Authorization: `Bearer ${other.key}`,
        "Mcp-Session-Id": agent.sessionId() ?? "",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(response.status).toBe(403);
    expect(response.body.error?.data?.code).toBe("session_key_mismatch");
    expect(outcome(await call(agent.client, "session_status")).ok).toBe(true);
    await agent.close();
  });
});

describe("operator", () => {
  it("an operator session sees only control tools, and kills an agent's session: its next call is refused with nothing sent to Stripe", async () => {
    const [agentK, operatorK] = [key("t4-agent"), key("olivia")];
    const [agent, operator] = await Promise.all([
      connect(server.url, agentK.key, "streamable"),
      connect(server.url, operatorK.key, "sse"),
    ]);
    const operatorTools = (await operator.client.listTools()).tools.map((t) => t.name);
    // Exactly the operator tool registry, and none of the agent tools.
    expect(operatorTools).toEqual(OPERATOR_TOOLS.map((tool) => tool.name));
    expect(operatorTools).not.toContain("issue_refund");

    expect(outcome(await call(agent.client, "issue_refund", refund(800))).ok).toBe(true);
    const listed = outcome(await call(operator.client, "list_sessions", { agent: "t4-agent" }));
    if (!listed.ok) throw new Error(listed.message);
    const [session] = listed.data.sessions as {
      session_id: string;
      key_id: string;
      calls: number;
    }[];
    expect(session).toMatchObject({ key_id: agentK.id, calls: 1 });

    const requests = sandbox.requests.length;
    const killed = outcome(
      await call(operator.client, "kill_session", {
        session_id: session?.session_id,
        reason: "refund backlog under review",
      }),
    );
    expect(killed).toMatchObject({ ok: true, data: { killed: true, state: "killed" } });
    const after = outcome(await call(agent.client, "issue_refund", refund(801)));
    expect(after).toMatchObject({ ok: false, code: "session_killed" });
    if (!after.ok) expect(after.message).toContain("refund backlog under review");
    expect(sandbox.requests.length).toBe(requests);

    const killedRow = (await sessions()).find((s) => s.id === session?.session_id);
    expect(killedRow).toMatchObject({ state: "killed", killed_by: "operator:olivia" });
    const operatorRows = (await audit()).filter((r) => r.agent === "operator:olivia");
    expect(operatorRows.map((r) => [r.tool, r.decision, r.rule])).toEqual([
      ["list_sessions", "allow", "operator"],
      ["kill_session", "allow", "operator"],
    ]);
    expect(operatorRows.every((r) => r.session.startsWith("ops_"))).toBe(true);

    // An agent key cannot call control tools: they are not its tools.
    expect(outcome(await call(agent.client, "kill_all", { reason: "x" }))).toMatchObject({
      ok: false,
      code: "unknown_tool",
    });
    await Promise.all([agent.close(), operator.close()]);
  });

  it("kill_agent stops every session of one agent, on both transports; spend_summary shows what it moved", async () => {
    const [agentK, operatorK] = [key("t4-pair"), key("operator")];
    const [s1, s2, operator] = await Promise.all([
      connect(server.url, agentK.key, "streamable"),
      connect(server.url, agentK.key, "sse"),
      connect(server.url, operatorK.key, "streamable"),
    ]);
    expect(
      outcome(await call(s1.client, "issue_refund", refund(1200, DEMO.charges.acmeSmallA))).ok,
    ).toBe(true);

    const summary = outcome(
      await call(operator.client, "spend_summary", { by: "agent", agent: "t4-pair" }),
    );
    if (!summary.ok) throw new Error(summary.message);
    expect(summary.data.groups).toEqual([
      expect.objectContaining({
        key: "t4-pair",
        calls: 1,
        ok: 1,
        money: [expect.objectContaining({ moved: 1200, cap_currency: "usd" })],
      }),
    ]);

    const killed = outcome(
      await call(operator.client, "kill_agent", { agent: "t4-pair", reason: "done" }),
    );
    if (!killed.ok) throw new Error(killed.message);
    expect(killed.data.killed).toHaveLength(2);
    for (const s of [s1, s2]) {
      expect(
        outcome(await call(s.client, "lookup_charge", { charge: DEMO.charges.acmeSmallA })),
      ).toMatchObject({
        ok: false,
        code: "session_killed",
      });
    }
    const invalid = outcome(
      await call(operator.client, "kill_session", { session_id: "nope", reason: "x" }),
    );
    expect(invalid).toMatchObject({ ok: false, code: "invalid_input" });
    await Promise.all([s1.close(), s2.close(), operator.close()]);
  });
});
