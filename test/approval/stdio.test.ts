import Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import {
  call,
  connectOperatorStdio,
  connectStdio,
  errorOf,
  MODERN,
  okOf,
  policyFile,
  tempHome,
} from "../e2e/harness.js";
import { accept, approvalIdIn, clientFor, decline, never, operator, readStore } from "./harness.js";

/**
 * Human approval over the real stdio server and the sandbox, driven by the MCP SDK's
 * client: in-band when the client declares elicitation (accept, decline, no answer), and
 * out-of-band when the policy says the operator decides (the operator approves or rejects
 * with the real CLI, the agent retries; requests expire). What the sandbox refunded is
 * the proof.
 */

let sandbox: Sandbox;
let admin: Stripe;
let home: ReturnType<typeof tempHome>;

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
  home = tempHome();
});

afterEach(async () => {
  await sandbox.close();
  home.cleanup();
});

const CHARGE = DEMO.charges.acmeLarge;
/** $50.00 on Jane's $500.00 charge: over the $40.00 approval threshold below. */
const REFUND = { charge: CHARGE, amount: 5_000, reason: "requested_by_customer" };

/** support-refunds, where refunds over $40.00 need a person's yes. */
function policy(extra: Record<string, unknown> = {}) {
  return policyFile(home.dir, "support-refunds", {
    require_approval_over: 40,
    approval_timeout: "1s",
    ...extra,
  });
}

async function serve(answer?: Parameters<typeof clientFor>[0], extra = {}) {
  const { client, questions } = clientFor(answer);
  const server = await connectStdio({
    policy: policy(extra),
    home: home.dir,
    sandbox,
    key: sandbox.keys.roles["support-refunds"],
    client,
  });
  return { ...server, questions };
}

async function refunded(): Promise<number> {
  const refunds = await admin.refunds.list({ charge: CHARGE, limit: 100 });
  return refunds.data.reduce((sum, r) => sum + r.amount, 0);
}

/** Out of band: the policy says the operator decides (over stdio the client would be asked). */
const OPERATOR = { approval_via: "operator" };

describe("in-band, the client asks its user (elicitation)", () => {
  it("accept: the refund goes through, and the user saw who, for whom, how much and why", async () => {
    const server = await serve(accept);
    const result = okOf<{ id: string }>(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(await refunded()).toBe(5_000);
    expect(server.questions).toHaveLength(1);
    const params = server.questions[0]?.params;
    expect(params && "requestedSchema" in params ? params.requestedSchema : undefined).toEqual({
      type: "object",
      properties: {
        approve: {
          type: "boolean",
          title: "Approve?",
          description: "Yes lets this one call through (the caps still apply); no refuses it.",
        },
      },
      required: ["approve"],
    });
    const message = params?.message ?? "";
    expect(message).toContain(
      'Agent "support-refunds" asks to run issue_refund (Refund a charge).',
    );
    expect(message).toContain("Customer: Jane D. (cus_SgAcmeJaneDoe)");
    expect(message).toContain("Amount: $50.00");
    expect(message).toContain(
      `Arguments: charge ${CHARGE}, amount 5000, reason requested_by_customer`,
    );
    expect(message).toContain("Why you are asked: amounts over $40.00 need a person's approval");
    expect(message).toContain("Caps before this call: $250.00 left of the $250.00 session cap");
    const { audit, approvals } = await readStore(home.dir, (rows) => rows);
    expect(approvals).toMatchObject([{ state: "used", decided_by: "elicitation" }]);
    // On 2026-07-28 the question went back as input_required: that first tools/call is
    // its own row, and the retry carrying the answer another.
    const asked = MODERN ? audit.slice(1) : audit;
    if (MODERN) expect(audit[0]).toMatchObject({ decision: "deny", code: "approval_required" });
    expect(asked.map((r) => [r.rule, r.outcome])).toEqual([
      ["approval", "approved"],
      ["policy", "ok"],
    ]);
    expect(result.id).toMatch(/^re_/);
  });

  it("decline: approval_declined, nothing refunded", async () => {
    const server = await serve(decline);
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(error.code).toBe("approval_declined");
    expect(error.message).toContain("a person declined it");
    expect(await refunded()).toBe(0);
  });

  it("never answering: approval_timeout after approval_timeout, nothing refunded", async () => {
    const server = await serve(never);
    const started = Date.now();
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    const waited = Date.now() - started;
    await server.close();
    expect(error.code).toBe("approval_timeout");
    expect(error.message).toContain("nobody answered approval request");
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(10_000);
    expect(await refunded()).toBe(0);
    const { approvals } = await readStore(home.dir, (rows) => rows);
    expect(approvals).toMatchObject([{ state: "expired", decided_by: "elicitation" }]);
  });

  it("calls under the threshold are never asked about", async () => {
    const server = await serve(accept);
    okOf(await call(server.client, "issue_refund", { ...REFUND, amount: 4_000 }));
    await server.close();
    expect(server.questions).toHaveLength(0);
  });
});

describe("out-of-band, the operator decides", () => {
  it("approve with the CLI: the same call goes through once, its repeat is answered from the record; another amount needs its own", async () => {
    const server = await serve(undefined, OPERATOR);
    const first = errorOf(await call(server.client, "issue_refund", REFUND));
    expect(first.code).toBe("approval_required");
    const id = approvalIdIn(first.message);
    expect(first.hint).toContain(`spendguard approve ${id}`);

    const listed = await operator(home.dir, "approvals", "--pending");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("Customer: Jane D. (cus_SgAcmeJaneDoe)");
    expect(listed.stdout).toContain(`Decide: spendguard approve ${id}`);

    const approved = await operator(home.dir, "approve", id, "--reason", "customer called");
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(
      `Approved ${id}: issue_refund of $50.00 for cus_SgAcmeJaneDoe`,
    );

    // Another amount is another call: the yes does not cover it.
    const other = errorOf(await call(server.client, "issue_refund", { ...REFUND, amount: 5_001 }));
    expect(other.code).toBe("approval_required");
    expect(approvalIdIn(other.message)).not.toBe(id);

    okOf(await call(server.client, "issue_refund", REFUND));
    expect(await refunded()).toBe(5_000);
    // The same call again is a repeat, answered from the record: nothing moves, no new yes.
    const again = okOf<{ spendguard: { replayed: boolean } }>(
      await call(server.client, "issue_refund", REFUND),
    );
    expect(again.spendguard.replayed).toBe(true);
    await server.close();
    expect(await refunded()).toBe(5_000);

    const { audit } = await readStore(home.dir, (rows) => rows);
    const decision = audit.find((r) => r.rule === "approval");
    expect(decision).toMatchObject({
      outcome: "approved",
      reason: `${id} approved via operator (cli): customer called`,
      customer: "cus_SgAcmeJaneDoe",
      amount: 5_000,
    });
    const used = await operator(home.dir, "approvals", "--json");
    const views = JSON.parse(used.stdout) as { id: string; state: string }[];
    expect(views.find((v) => v.id === id)?.state).toBe("used");
  });

  it("approve with the operator tools over stdio (serve --operator): decided by operator:stdio", async () => {
    const server = await serve(undefined, OPERATOR);
    const ops = await connectOperatorStdio(home.dir);
    const id = approvalIdIn(errorOf(await call(server.client, "issue_refund", REFUND)).message);
    const listed = okOf<{ approvals: { approval_id: string }[] }>(
      await call(ops, "list_pending_approvals", {}),
    );
    expect(listed.approvals.map((a) => a.approval_id)).toEqual([id]);
    okOf(await call(ops, "approve", { approval_id: id, note: "ok by phone" }));
    await ops.close();
    okOf(await call(server.client, "issue_refund", REFUND));
    await server.close();
    expect(await refunded()).toBe(5_000);
    const { audit, approvals } = await readStore(home.dir, (rows) => rows);
    expect(approvals).toMatchObject([{ id, state: "used", decided_by: "operator:stdio" }]);
    expect(audit.find((r) => r.rule === "approval")?.reason).toBe(
      `${id} approved via operator (operator:stdio): ok by phone`,
    );
  });

  it("reject with the CLI: the retry is refused; the request cannot be decided twice", async () => {
    const server = await serve(undefined, OPERATOR);
    const id = approvalIdIn(errorOf(await call(server.client, "issue_refund", REFUND)).message);
    const rejected = await operator(home.dir, "reject", id, "--reason", "not without a ticket");
    expect(rejected.code, rejected.stderr).toBe(0);
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    expect(error.code).toBe("approval_declined");
    expect(error.message).toContain("cli: not without a ticket");
    const late = await operator(home.dir, "approve", id);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain(`approval ${id} is already rejected`);
    const unknown = await operator(home.dir, "approve", "apr_000000000000000000000000");
    expect(unknown.code).toBe(1);
    await server.close();
    expect(await refunded()).toBe(0);
  });

  it("pending requests expire: too late to approve, the retry asks anew", async () => {
    const server = await serve(undefined, {
      ...OPERATOR,
      approval_ttl: "2s",
    });
    const id = approvalIdIn(errorOf(await call(server.client, "issue_refund", REFUND)).message);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const late = await operator(home.dir, "approve", id);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain(`approval ${id} expired at`);
    const pending = await operator(home.dir, "approvals", "--pending");
    expect(pending.stdout).toContain("No pending approval requests");
    const retry = errorOf(await call(server.client, "issue_refund", REFUND));
    expect(approvalIdIn(retry.message)).not.toBe(id);
    await server.close();
    expect(await refunded()).toBe(0);
  });

  it("the caps still apply after a yes: the session cap refuses the approved refund", async () => {
    const server = await serve(undefined, {
      ...OPERATOR,
      caps: { currency: "usd", per_call: 100, per_session: 100, per_day: 1000 },
    });
    const id = approvalIdIn(errorOf(await call(server.client, "issue_refund", REFUND)).message);
    expect((await operator(home.dir, "approve", id)).code).toBe(0);
    for (const amount of [3_000, 2_900]) {
      okOf(await call(server.client, "issue_refund", { ...REFUND, amount }));
    }
    const capped = errorOf(await call(server.client, "issue_refund", REFUND));
    expect(capped.code).toBe("cap_session");
    expect(capped.message).toContain("only $41.00 left of the $100.00 session cap");
    await server.close();
    expect(await refunded()).toBe(5_900);
    const { approvals } = await readStore(home.dir, (rows) => rows);
    expect(approvals.find((a) => a.id === id)?.state).toBe("approved");
  });
});
