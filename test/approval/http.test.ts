import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { errorOf, okOf } from "../e2e/harness.js";
import {
  type Connected,
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  outcome,
  policyFile,
  runCli,
  startHttpServer,
  tempHome,
  type Wire,
} from "../http/harness.js";
import { accept, approvalIdIn, clientFor, decline, never, readStore } from "./harness.js";

/**
 * Human approval over HTTP: one real server on 127.0.0.1 against the sandbox, agents on
 * the SDK's HTTP clients. In-band when the agent's client declares elicitation (accept,
 * decline, no answer); out-of-band when it does not, with the operator deciding through
 * the operator tools in an operator key's MCP session (approve, reject, expiry). What the
 * sandbox refunded and what the audit holds are the proof.
 */

let sandbox: Sandbox;
let admin: Stripe;
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
/** Made with the real CLI before the tests, in parallel: one agent per test. */
let keys: Record<string, CreatedKey>;
/** olivia's operator session, shared by the out-of-band tests. */
let operator: Connected;

const CHARGE = DEMO.charges.acmeLarge;
/** $25.00 on Jane's $500.00 charge: over the $20.00 approval threshold below. */
const REFUND = { charge: CHARGE, amount: 2_500, reason: "requested_by_customer" };
const JANE = "cus_SgAcmeJaneDoe";

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
  home = tempHome();
  // In-band and out-of-band alike: over HTTP the client is asked only when the policy says so.
  const asks = { require_approval_over: 20, approval_timeout: "1s", approval_via: "either" };
  const base = policyFile(home.dir, "support-refunds", asks);
  const shortTtl = policyFile(home.dir, "support-refunds", { ...asks, approval_ttl: "2s" });
  const tight = policyFile(home.dir, "support-refunds", {
    ...asks,
    caps: { currency: "usd", per_call: 100, per_session: 50, per_day: 1000 },
  });
  server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    },
    args: ["--rate-limit", "200"],
  });
  const agent = (policy: string) => (name: string) => ["--agent", name, "--policy", policy];
  const wanted: Record<string, (name: string) => string[]> = {
    "accept-streamable": agent(base),
    "accept-sse": agent(base),
    decline: agent(base),
    never: agent(base),
    "oob-approve": agent(base),
    "oob-reject": agent(base),
    "oob-expiry": agent(shortTtl),
    "oob-ended": agent(base),
    "oob-caps": agent(tight),
    olivia: () => ["--operator", "--name", "olivia"],
  };
  const made = await Promise.all(
    Object.entries(wanted).map(([name, args]) => createKey(home.dir, args(name))),
  );
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

/** The refunds on CHARGE, oldest first. */
async function refunds(): Promise<{ id: string; amount: number }[]> {
  const listed = await admin.refunds.list({ charge: CHARGE, limit: 100 });
  return listed.data.map((r) => ({ id: r.id, amount: r.amount })).reverse();
}

/** Refunds made while `run` ran. */
async function refundedDuring(run: () => Promise<void>): Promise<{ id: string; amount: number }[]> {
  const before = new Set((await refunds()).map((r) => r.id));
  await run();
  return (await refunds()).filter((r) => !before.has(r.id));
}

/** An operator tool's structured result; fails the test on a refusal. */
async function operatorCall(name: string, args: Record<string, unknown>) {
  const result = outcome(await call(operator.client, name, args));
  if (!result.ok) throw new Error(`${name}: ${result.code} ${result.message}`);
  return result.data;
}

async function operatorRefusal(name: string, args: Record<string, unknown>) {
  const result = outcome(await call(operator.client, name, args));
  if (result.ok) throw new Error(`${name} should have been refused`);
  return result;
}

const auditOf = async (agent: string) =>
  await readStore(home.dir, ({ audit }) => audit.filter((r) => r.agent === agent));
const approvalsOf = async (agent: string) =>
  await readStore(home.dir, ({ approvals }) => approvals.filter((a) => a.agent === agent));

describe("in-band over HTTP, the agent's client asks its user (elicitation)", () => {
  it.each<Wire>(["streamable", "sse"])(
    "%s, accept: exactly one refund; the user saw who, for whom, how much and why",
    async (wire) => {
      const name = `accept-${wire}`;
      const { client, questions } = clientFor(accept);
      const agent = await connect(server.url, key(name), wire, client);
      let id = "";
      const made = await refundedDuring(async () => {
        id = okOf<{ id: string }>(await call(client, "issue_refund", REFUND)).id;
      });
      await agent.close();
      expect(made).toEqual([{ id, amount: 2_500 }]);
      expect(questions).toHaveLength(1);
      const message = questions[0]?.params.message ?? "";
      expect(message).toContain(`Agent "${name}" asks to run issue_refund (Refund a charge).`);
      expect(message).toContain(`Customer: Jane D. (${JANE})`);
      expect(message).toContain("Amount: $25.00");
      expect(message).toContain("Why you are asked: amounts over $20.00 need a person's approval");
      expect(message).toContain("Caps before this call:");
      expect(await approvalsOf(name)).toMatchObject([{ state: "used", decided_by: "elicitation" }]);
      expect((await auditOf(name)).map((r) => [r.rule, r.outcome])).toEqual([
        ["approval", "approved"],
        ["policy", "ok"],
      ]);
    },
  );

  it("decline: approval_declined, nothing refunded", async () => {
    const { client } = clientFor(decline);
    const agent = await connect(server.url, key("decline"), "streamable", client);
    const made = await refundedDuring(async () => {
      const error = errorOf(await call(client, "issue_refund", REFUND));
      expect(error.code).toBe("approval_declined");
      expect(error.message).toContain("a person declined it");
    });
    await agent.close();
    expect(made).toEqual([]);
    expect(await approvalsOf("decline")).toMatchObject([
      { state: "rejected", decided_by: "elicitation" },
    ]);
    expect((await auditOf("decline")).map((r) => [r.rule, r.outcome, r.code])).toEqual([
      ["approval", "rejected", "approval_declined"],
      ["require_approval_over", "denied", "approval_declined"],
    ]);
  });

  it("never answering: approval_timeout after approval_timeout, nothing refunded", async () => {
    const { client, questions } = clientFor(never);
    const agent = await connect(server.url, key("never"), "streamable", client);
    const started = Date.now();
    const made = await refundedDuring(async () => {
      const error = errorOf(await call(client, "issue_refund", REFUND));
      expect(error.code).toBe("approval_timeout");
    });
    const waited = Date.now() - started;
    await agent.close();
    expect(questions).toHaveLength(1);
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(10_000);
    expect(made).toEqual([]);
    expect(await approvalsOf("never")).toMatchObject([
      { state: "expired", decided_by: "elicitation" },
    ]);
  });
});

describe("out-of-band over HTTP, the operator decides with the operator tools", () => {
  it("approve: the same call goes through once, and its repeat is answered from the record; another amount or another customer needs its own", async () => {
    const agent = await connect(server.url, key("oob-approve"));
    const first = errorOf(await call(agent.client, "issue_refund", REFUND));
    expect(first.code).toBe("approval_required");
    const id = approvalIdIn(first.message);
    expect(first.hint).toContain("operator tools approve / reject");

    const listed = await operatorCall("list_pending_approvals", { agent: "oob-approve" });
    expect(listed.count).toBe(1);
    const [pending] = listed.approvals as { summary: string }[];
    expect(pending).toMatchObject({
      approval_id: id,
      state: "pending",
      agent: "oob-approve",
      tool: "issue_refund",
      customer: JANE,
      amount: 2_500,
      currency: "usd",
      amount_cap: 2_500,
      cap_currency: "usd",
      rule: "require_approval_over",
      args: REFUND,
      decided_by: null,
    });
    expect(pending?.summary).toContain(`Customer: Jane D. (${JANE})`);

    const approved = await operatorCall("approve", { approval_id: id, note: "customer called" });
    expect(approved.approval).toMatchObject({
      approval_id: id,
      state: "approved",
      decided_by: "operator:olivia",
      decision_reason: "customer called",
    });

    const made = await refundedDuring(async () => {
      // Another amount, another customer (John's payment): other calls, not covered.
      for (const other of [
        { ...REFUND, amount: 2_501 },
        { payment_intent: DEMO.paymentIntents.acmeSucceeded, amount: 2_500, reason: "duplicate" },
      ]) {
        const refused = errorOf(await call(agent.client, "issue_refund", other));
        expect(refused.code).toBe("approval_required");
        expect(approvalIdIn(refused.message)).not.toBe(id);
      }
      okOf(await call(agent.client, "issue_refund", REFUND));
      // The same call again is a repeat, answered from the record: nothing moves, no new yes.
      const again = okOf<{ spendguard: { replayed: boolean } }>(
        await call(agent.client, "issue_refund", REFUND),
      );
      expect(again.spendguard.replayed).toBe(true);
    });
    await agent.close();
    expect(made.map((r) => r.amount)).toEqual([2_500]);

    // The two other requests are still pending, but their session is closed: nothing can
    // use them, so nobody is asked to decide them.
    const stillPending = await operatorCall("list_pending_approvals", { agent: "oob-approve" });
    expect(stillPending.count).toBe(0);
    expect((await approvalsOf("oob-approve")).filter((a) => a.state === "pending")).toHaveLength(2);
    expect((await approvalsOf("oob-approve")).find((a) => a.id === id)).toMatchObject({
      state: "used",
      decided_by: "operator:olivia",
    });
    const rows = await auditOf("oob-approve");
    // The request, the decision with who decided, then the call it let through.
    const request = rows.findIndex((r) => r.code === "approval_required");
    expect(rows[request]).toMatchObject({ rule: "require_approval_over", decision: "deny" });
    expect(rows[request]?.reason).toContain(id);
    expect(rows[request + 1]).toMatchObject({
      rule: "approval",
      outcome: "approved",
      reason: `${id} approved via operator (operator:olivia): customer called`,
      customer: JANE,
      amount: 2_500,
    });
    const used = rows.findIndex((r) => r.rule === "policy" && r.outcome === "ok");
    expect(used).toBeGreaterThan(request + 1);
    const decided = (await auditOf("operator:olivia")).filter((r) => r.tool === "approve");
    expect(decided).toMatchObject([{ decision: "allow", rule: "operator" }]);
    expect(decided[0]?.args).toContain(id);
  });

  it("reject: the retry is refused with the reason; a request is decided once", async () => {
    const agent = await connect(server.url, key("oob-reject"));
    const made = await refundedDuring(async () => {
      const id = approvalIdIn(errorOf(await call(agent.client, "issue_refund", REFUND)).message);
      expect(await operatorRefusal("reject", { approval_id: id })).toMatchObject({
        code: "invalid_input",
      });
      const rejected = await operatorCall("reject", {
        approval_id: id,
        reason: "not without a ticket",
      });
      expect(rejected.approval).toMatchObject({ state: "rejected", decided_by: "operator:olivia" });

      const error = errorOf(await call(agent.client, "issue_refund", REFUND));
      expect(error.code).toBe("approval_declined");
      expect(error.message).toContain("operator:olivia: not without a ticket");

      const late = await operatorRefusal("approve", { approval_id: id });
      expect(late.code).toBe("approval_decided");
      expect(late.message).toContain(`approval ${id} is already rejected`);
      const unknown = await operatorRefusal("approve", { approval_id: `apr_${"0".repeat(24)}` });
      expect(unknown.code).toBe("unknown_approval");

      const rows = await auditOf("oob-reject");
      expect(rows.find((r) => r.rule === "approval")).toMatchObject({
        outcome: "rejected",
        code: "approval_declined",
        reason: `${id} rejected via operator (operator:olivia): not without a ticket`,
      });
    });
    await agent.close();
    expect(made).toEqual([]);
  });

  it("pending requests expire: gone from the list, too late to approve, the retry asks anew", async () => {
    const agent = await connect(server.url, key("oob-expiry"));
    const id = approvalIdIn(errorOf(await call(agent.client, "issue_refund", REFUND)).message);
    expect((await operatorCall("list_pending_approvals", { agent: "oob-expiry" })).count).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await operatorCall("list_pending_approvals", { agent: "oob-expiry" })).count).toBe(0);
    const late = await operatorRefusal("approve", { approval_id: id });
    expect(late.code).toBe("approval_expired");
    const retry = errorOf(await call(agent.client, "issue_refund", REFUND));
    expect(retry.code).toBe("approval_required");
    expect(approvalIdIn(retry.message)).not.toBe(id);
    await agent.close();
  });

  it("a yes for a session that has ended is refused: nothing could use it", async () => {
    const agent = await connect(server.url, key("oob-ended"));
    const id = approvalIdIn(errorOf(await call(agent.client, "issue_refund", REFUND)).message);
    await agent.close();
    const refused = await operatorRefusal("approve", { approval_id: id });
    expect(refused.code).toBe("session_not_active");
    expect((await operatorCall("list_pending_approvals", { agent: "oob-ended" })).count).toBe(0);
  });

  it("the caps still apply after a yes: the session cap refuses the approved refund", async () => {
    const agent = await connect(server.url, key("oob-caps"));
    const id = approvalIdIn(errorOf(await call(agent.client, "issue_refund", REFUND)).message);
    await operatorCall("approve", { approval_id: id });
    const made = await refundedDuring(async () => {
      for (const amount of [1_500, 1_400]) {
        okOf(await call(agent.client, "issue_refund", { ...REFUND, amount }));
      }
      const capped = errorOf(await call(agent.client, "issue_refund", REFUND));
      expect(capped.code).toBe("cap_session");
    });
    await agent.close();
    expect(made.map((r) => r.amount)).toEqual([1_500, 1_400]);
    expect((await approvalsOf("oob-caps")).find((a) => a.id === id)?.state).toBe("approved");
  });

  it("every request and decision above is in an audit chain that verifies", async () => {
    const verified = await runCli(["audit", "verify", "--home", home.dir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  });
});
