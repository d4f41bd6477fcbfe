import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { connectStdio, errorOf, okOf } from "../e2e/harness.js";
import {
  type Connected,
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  outcome,
  policyFile,
  startHttpServer,
  tempHome,
} from "../http/harness.js";
import { accept, approvalIdIn, clientFor, never, readStore } from "./harness.js";

/**
 * Who may say yes (`approval_via`). Over HTTP the MCP client is the remote agent itself,
 * so by default it is never asked: the operator decides. Over stdio the user's own client
 * launched the process, so by default it is asked. `client` and `either` over HTTP are a
 * policy's explicit choice. One real server on 127.0.0.1 and the real stdio server against
 * the sandbox; what the sandbox refunded and what the audit names are the proof.
 */

let sandbox: Sandbox;
let admin: Stripe;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let keys: Record<string, CreatedKey>;
let operator: Connected;

const CHARGE = DEMO.charges.acmeLarge;
/** $25.00 on Jane's $500.00 charge: over the $20.00 approval threshold below. */
const REFUND = { charge: CHARGE, amount: 2_500, reason: "requested_by_customer" };
const ASKS = { require_approval_over: 20, approval_timeout: "2s" };

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
  home = tempHome();
  const policy = (extra: Record<string, unknown> = {}) =>
    policyFile(home.dir, "support-refunds", { ...ASKS, ...extra });
  server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    args: ["--rate-limit", "200"],
  });
  const files = {
    default: policy(),
    client: policy({ approval_via: "client" }),
    either: policy({ approval_via: "either" }),
  };
  const wanted: Record<string, string[]> = {
    "http-default": ["--agent", "http-default", "--policy", files.default],
    "http-client": ["--agent", "http-client", "--policy", files.client],
    "http-client-mute": ["--agent", "http-client-mute", "--policy", files.client],
    "http-either": ["--agent", "http-either", "--policy", files.either],
    "http-either-mute": ["--agent", "http-either-mute", "--policy", files.either],
    olivia: ["--operator", "--name", "olivia"],
  };
  const made = await Promise.all(Object.values(wanted).map((args) => createKey(home.dir, args)));
  keys = Object.fromEntries(Object.keys(wanted).map((name, i) => [name, made[i] as CreatedKey]));
  operator = await connect(server.url, key("olivia"), "streamable");
});

afterAll(async () => {
  await operator?.close();
  await server?.stop();
  await sandbox?.close();
  home?.cleanup();
});

function key(name: string): string {
  const made = keys[name];
  if (!made) throw new Error(`no key made for ${name}`);
  return made.key;
}

async function refundedTotal(): Promise<number> {
  const listed = await admin.refunds.list({ charge: CHARGE, limit: 100 });
  return listed.data.reduce((sum, r) => sum + r.amount, 0);
}

async function operatorTool(name: string, args: Record<string, unknown>) {
  return outcome(await call(operator.client, name, args));
}

const auditOf = async (agent: string) =>
  await readStore(home.dir, ({ audit }) => audit.filter((r) => r.agent === agent));

describe("over HTTP", () => {
  it("by default the agent's client is never asked, even when it can be: the operator decides", async () => {
    const { client, questions } = clientFor(accept);
    const agent = await connect(server.url, key("http-default"), "streamable", client);
    const before = await refundedTotal();
    const first = errorOf(await call(client, "issue_refund", REFUND));
    expect(first.code).toBe("approval_required");
    expect(questions).toHaveLength(0);
    const id = approvalIdIn(first.message);
    const approved = await operatorTool("approve", { approval_id: id, note: "ticket 7" });
    expect(approved.ok).toBe(true);
    okOf(await call(client, "issue_refund", REFUND));
    await agent.close();
    expect((await refundedTotal()) - before).toBe(2_500);
    expect(questions).toHaveLength(0);
    const rows = await auditOf("http-default");
    expect(rows.find((r) => r.rule === "approval")?.reason).toBe(
      `${id} approved via operator (operator:olivia): ticket 7`,
    );
    expect(rows.find((r) => r.rule === "policy" && r.outcome === "ok")?.reason).toBe(
      `allowed with approval ${id} (via operator, operator:olivia)`,
    );
  });

  it("approval_via: client asks the client's user, and an operator cannot say yes for them", async () => {
    const { client, questions } = clientFor(never);
    const agent = await connect(server.url, key("http-client"), "streamable", client);
    const pending = call(client, "issue_refund", REFUND);
    // While the question is open, the request is visible, but not the operator's to grant.
    let listed: { approval_id: string; approval_via: string }[] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      const found = await operatorTool("list_pending_approvals", { agent: "http-client" });
      if (found.ok) listed = found.data.approvals as typeof listed;
      if (listed.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(listed).toMatchObject([{ approval_via: "client" }]);
    const refused = await operatorTool("approve", { approval_id: listed[0]?.approval_id });
    expect(refused).toMatchObject({ ok: false, code: "approval_client_only" });
    expect(errorOf(await pending).code).toBe("approval_timeout");
    expect(questions).toHaveLength(1);
    await agent.close();

    const yes = clientFor(accept);
    const again = await connect(server.url, key("http-client"), "streamable", yes.client);
    okOf(await call(yes.client, "issue_refund", REFUND));
    await again.close();
    expect(yes.questions).toHaveLength(1);
    const decided = (await auditOf("http-client")).filter((r) => r.rule === "approval");
    expect(decided.map((r) => r.outcome)).toEqual(["expired", "approved"]);
    expect(decided[1]?.reason).toMatch(/ approved via client \(elicitation\): /);
  });

  it("approval_via: client with a client that cannot be asked: refused, nothing left pending", async () => {
    const agent = await connect(server.url, key("http-client-mute"));
    const before = await refundedTotal();
    const error = errorOf(await call(agent.client, "issue_refund", REFUND));
    await agent.close();
    expect(error.code).toBe("approval_required");
    expect(error.message).toContain("only from the MCP client's user (approval_via: client)");
    expect(error.hint).toContain("approval_via");
    expect(await refundedTotal()).toBe(before);
    const listed = await operatorTool("list_pending_approvals", { agent: "http-client-mute" });
    expect(listed).toMatchObject({ ok: true, data: { count: 0 } });
  });

  it("approval_via: either asks a client that can be asked, and queues for the operator otherwise", async () => {
    const yes = clientFor(accept);
    const asked = await connect(server.url, key("http-either"), "streamable", yes.client);
    okOf(await call(yes.client, "issue_refund", REFUND));
    await asked.close();
    expect(yes.questions).toHaveLength(1);

    const mute = await connect(server.url, key("http-either-mute"));
    const id = approvalIdIn(errorOf(await call(mute.client, "issue_refund", REFUND)).message);
    expect((await operatorTool("approve", { approval_id: id })).ok).toBe(true);
    okOf(await call(mute.client, "issue_refund", REFUND));
    await mute.close();
  });
});

describe("over stdio", () => {
  async function stdio(extra: Record<string, unknown>, answer?: Parameters<typeof clientFor>[0]) {
    const { client, questions } = clientFor(answer);
    const connected = await connectStdio({
      policy: policyFile(home.dir, "support-refunds", { ...ASKS, ...extra }),
      home: home.dir,
      sandbox,
      key: sandbox.keys.roles["support-refunds"],
      client,
      args: ["--agent", `stdio-${Object.values(extra).join("-") || "default"}`],
    });
    return { ...connected, questions };
  }

  it("by default the user's own client is asked", async () => {
    const server = await stdio({}, accept);
    okOf(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(server.questions).toHaveLength(1);
  });

  it("by default a client that cannot be asked is told how the operator could decide", async () => {
    const server = await stdio({});
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(error.code).toBe("approval_required");
    expect(error.message).toContain("approval_via: client");
    expect(error.hint).toContain("approval_via: operator (or either)");
  });

  it("approval_via: operator never asks the client, whatever it declares", async () => {
    const server = await stdio({ approval_via: "operator" }, accept);
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(error.code).toBe("approval_required");
    expect(error.hint).toContain("spendguard approve");
    expect(server.questions).toHaveLength(0);
  });
});
