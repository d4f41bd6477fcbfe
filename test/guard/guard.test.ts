import { spawnSync } from "node:child_process";
import Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/chain.js";
import type { CallOutcome } from "../../src/guard/guard.js";
import { idempotencyKey } from "../../src/guard/idempotency.js";
import { removeKillFlag, writeKillFlag } from "../../src/guard/kill.js";
import { killAgent, killAll, killSession } from "../../src/guard/sessions.js";
import type { AdmissionRequest, AuditRecord } from "../../src/store/store.js";
import { fakeStripeKey } from "../fake-keys.js";
import { type Harness, harness } from "./fixtures/harness.js";
import { removeTempHomes } from "./fixtures/home.js";
import { BASE_POLICY } from "./fixtures/policies.js";

afterAll(removeTempHomes);

const refund = (charge = "ch_usd", extra: Record<string, unknown> = {}) => ({
  charge,
  reason: "duplicate",
  ...extra,
});

function ok(outcome: CallOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.code}: ${outcome.message}`);
  return outcome;
}

function refused(outcome: CallOutcome) {
  if (outcome.ok) throw new Error(`expected a refusal, got: ${outcome.text}`);
  return outcome;
}

const audit = async (h: Harness): Promise<AuditRecord[]> => await h.store.queryAudit({});
const lastAudit = async (h: Harness): Promise<AuditRecord> => {
  const rows = await audit(h);
  const last = rows[rows.length - 1];
  if (!last) throw new Error("no audit row");
  return last;
};
const admissions = async (h: Harness) => await h.store.listAdmissions({ session: h.session.id });

/** A pid that surely belongs to no running process: a child that has exited. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", ""]);
  if (child.pid === undefined) throw new Error("could not spawn");
  return child.pid;
};

describe("an allowed refund", () => {
  it("runs the tool with an idempotency key, settles, and says what is left", async () => {
    const h = await harness();
    const outcome = ok(await h.guard.call("issue_refund", refund()));
    expect(outcome.output).toMatchObject({
      refund: "re_1",
      spendguard: { replayed: false, cap_currency: "usd", session_left: 20_000, day_left: 95_000 },
    });
    expect(outcome.text).toBe(
      "Refunded 5000 usd. $200.00 left of the $250.00 session cap, $950.00 left of the $1,000.00 daily cap.",
    );
    const [call] = h.world.writesOf("issue_refund");
    expect(call?.idempotencyKey).toMatch(/^sg_[0-9a-f]{64}$/);
    expect(await admissions(h)).toMatchObject([
      { state: "settled", amount: 5_000, amount_cap: 5_000, stripe_request_id: "req_1" },
    ]);
    expect(await lastAudit(h)).toMatchObject({
      session: h.session.id,
      agent: "support-refunds",
      tool: "issue_refund",
      decision: "allow",
      code: null,
      outcome: "ok",
      amount: 5_000,
      currency: "usd",
      amount_cap: 5_000,
      cap_currency: "usd",
      customer: "cus_acme1",
      idempotency_key: call?.idempotencyKey,
      stripe_request_id: "req_1",
      args: '{"charge":"ch_usd","reason":"duplicate"}',
    });
  });

  it("in another currency is counted converted, rounded up", async () => {
    const h = await harness();
    ok(await h.guard.call("issue_refund", refund("ch_eur")));
    expect(await lastAudit(h)).toMatchObject({
      amount: 5_000,
      currency: "eur",
      amount_cap: 5_500,
      cap_currency: "usd",
    });
    ok(await h.guard.call("issue_refund", refund("ch_jpy", { amount: 1 })));
    expect(await lastAudit(h)).toMatchObject({ amount: 1, currency: "jpy", amount_cap: 1 });
  });
});

describe("refusals", () => {
  it("an unknown tool: audited as an error, with the tools that exist", async () => {
    const h = await harness();
    const outcome = refused(await h.guard.call("drop_tables", { please: true }));
    expect(outcome.code).toBe("unknown_tool");
    expect(outcome.hint).toContain("issue_refund");
    expect(outcome.hint).not.toContain("cancel_subscription");
    expect(await lastAudit(h)).toMatchObject({
      tool: "drop_tables",
      decision: "error",
      code: "unknown_tool",
      outcome: "invalid",
    });
  });

  it("malformed arguments, naming the field; unknown arguments are errors, not dropped", async () => {
    const h = await harness();
    const bad = refused(await h.guard.call("issue_refund", { charge: 42 }));
    expect(bad.code).toBe("invalid_input");
    expect(bad.message).toContain("Invalid arguments for issue_refund: charge: expected string");
    const extra = refused(await h.guard.call("issue_refund", { charge: "ch_usd", amount_usd: 10 }));
    expect(extra.message).toContain(
      'unknown argument "amount_usd" (known: charge, amount, reason, payment_intent, note)',
    );
    for (const raw of [undefined, null, "refund it", [1, 2]]) {
      const outcome = await h.guard.call("lookup_charge", raw);
      expect(outcome.ok ? "ok" : outcome.code).toBe("invalid_input");
    }
    expect(await lastAudit(h)).toMatchObject({
      decision: "error",
      code: "invalid_input",
      outcome: "invalid",
    });
    expect(h.world.handled).toEqual([]);
  });

  it("a tool the policy does not list is neither listed nor callable", async () => {
    const h = await harness();
    expect(h.guard.listTools().map((t) => t.name)).toEqual([
      "issue_refund",
      "lookup_charge",
      "list_charges",
      "get_balance",
      "session_status",
      "end_session",
    ]);
    const outcome = refused(
      await h.guard.call("cancel_subscription", { subscription: "sub_acme" }),
    );
    expect(outcome.code).toBe("tool_not_allowed");
    expect(await lastAudit(h)).toMatchObject({
      decision: "deny",
      code: "tool_not_allowed",
      rule: "tools",
      outcome: "denied",
    });
  });

  it("read-only: write tools are neither listed nor callable", async () => {
    const h = await harness(BASE_POLICY, { readOnly: true });
    expect(h.guard.listTools().map((t) => t.name)).not.toContain("issue_refund");
    expect(refused(await h.guard.call("issue_refund", refund())).code).toBe("tool_not_allowed");
    ok(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
  });

  it("a parameter rule", async () => {
    const h = await harness();
    const outcome = refused(
      await h.guard.call("issue_refund", refund("ch_usd", { reason: "fraudulent" })),
    );
    expect(outcome).toMatchObject({ code: "param_not_allowed" });
    expect(h.world.handled).toEqual([]);
    expect(await admissions(h)).toEqual([]); // denials never touch the ledger
  });

  it("a customer out of scope: nothing about them in the reason, their id in the operator's audit", async () => {
    const h = await harness();
    const outcome = refused(await h.guard.call("lookup_charge", { charge: "ch_globex" }));
    expect(outcome.code).toBe("customer_out_of_scope");
    for (const detail of ["globex", "secret.person", "cus_globex1", "5000", "$50"]) {
      expect(outcome.message).not.toContain(detail);
    }
    expect(await lastAudit(h)).toMatchObject({
      code: "customer_out_of_scope",
      customer: "cus_globex1",
    });
    expect(refused(await h.guard.call("issue_refund", refund("ch_guest"))).code).toBe(
      "customer_out_of_scope",
    );
  });

  it("list tools only return what is in scope", async () => {
    const h = await harness();
    const outcome = ok(await h.guard.call("list_charges", {}));
    expect(outcome.output.charges).toEqual([
      "ch_usd",
      "ch_big",
      "ch_acme2",
      "ch_eur",
      "ch_jpy",
      "ch_gbp",
    ]);
  });

  it("money in a currency with no rate", async () => {
    const h = await harness();
    expect(refused(await h.guard.call("issue_refund", refund("ch_gbp"))).code).toBe(
      "currency_not_convertible",
    );
  });

  it("over the per-call cap, then over the session cap with what is left", async () => {
    const h = await harness();
    expect(refused(await h.guard.call("issue_refund", refund("ch_big"))).code).toBe("cap_per_call");
    ok(await h.guard.call("issue_refund", refund("ch_big", { amount: 10_000 })));
    ok(await h.guard.call("issue_refund", refund("ch_acme2", { amount: 10_000 })));
    const over = refused(await h.guard.call("issue_refund", refund("ch_big", { amount: 6_000 })));
    expect(over).toMatchObject({ code: "cap_session" });
    expect(over.message).toBe(
      "issue_refund of $60.00 refused: only $50.00 left of the $250.00 session cap. Smaller amounts up to $50.00 are still possible.",
    );
    ok(await h.guard.call("issue_refund", refund("ch_big", { amount: 5_000 })));
  });

  it("above require_approval_over", async () => {
    const h = await harness(`${BASE_POLICY}require_approval_over: 20\n`);
    expect(refused(await h.guard.call("issue_refund", refund())).code).toBe("approval_required");
    ok(await h.guard.call("issue_refund", refund("ch_usd", { amount: 2_000 })));
  });

  it("rate limits count calls, refused ones aside", async () => {
    const h = await harness(
      BASE_POLICY.replace("  lookup_charge:", "  lookup_charge:\n    calls_per_session: 2"),
    );
    ok(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
    refused(await h.guard.call("lookup_charge", { charge: "ch_globex" })); // denied: not counted
    ok(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
    const limited = refused(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
    expect(limited).toMatchObject({ code: "rate_limited" });
  });
});

describe("connected accounts", () => {
  const policy = `${BASE_POLICY}connected_accounts: [acct_one]\n`;

  it("adds stripe_account to the input only when the policy lists accounts", async () => {
    const without = await harness();
    const tool = without.tools.find((t) => t.name === "issue_refund");
    if (!tool) throw new Error("no tool");
    expect(Object.keys(without.guard.inputSchemaFor(tool).shape)).not.toContain("stripe_account");
    const withAccounts = await harness(policy);
    expect(Object.keys(withAccounts.guard.inputSchemaFor(tool).shape)).toContain("stripe_account");
  });

  it("passes an allowed account to Stripe and refuses any other", async () => {
    const h = await harness(policy);
    ok(await h.guard.call("issue_refund", refund("ch_usd", { stripe_account: "acct_one" })));
    expect(h.world.writesOf("issue_refund")[0]?.stripeAccount).toBe("acct_one");
    expect((await admissions(h))[0]?.account).toBe("acct_one");
    const outcome = refused(
      await h.guard.call("issue_refund", refund("ch_usd", { stripe_account: "acct_two" })),
    );
    expect(outcome.code).toBe("account_out_of_scope");
  });

  it("without accounts listed, stripe_account is an unknown argument", async () => {
    const h = await harness();
    expect(refused(await h.guard.call("get_balance", { stripe_account: "acct_one" })).code).toBe(
      "invalid_input",
    );
  });
});

describe("output schemas", () => {
  it("write tools add an optional spendguard block; reads are unchanged", async () => {
    const h = await harness();
    const byName = (name: string) => {
      const tool = h.tools.find((t) => t.name === name);
      if (!tool) throw new Error(name);
      return tool;
    };
    expect(Object.keys(h.guard.outputSchemaFor(byName("issue_refund")).shape)).toEqual([
      "refund",
      "moved",
      "spendguard",
    ]);
    expect(h.guard.outputSchemaFor(byName("lookup_charge"))).toBe(byName("lookup_charge").output);
    // What an agent receives validates against the schema it was shown.
    const { output } = ok(await h.guard.call("issue_refund", refund()));
    expect(h.guard.outputSchemaFor(byName("issue_refund")).parse(output)).toEqual(output);
  });
});

describe("sessions and kill paths", () => {
  it("an operator kill stops the very next call", async () => {
    const h = await harness();
    ok(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
    expect(await killSession(h.store, h.session.id, { by: "cli", reason: "runaway loop" })).toBe(
      true,
    );
    const outcome = refused(await h.guard.call("lookup_charge", { charge: "ch_usd" }));
    expect(outcome.code).toBe("session_killed");
    expect(outcome.message).toContain("runaway loop");
    expect(refused(await h.guard.call("session_status", {})).code).toBe("session_killed");
  });

  it("kill every session of an agent, or all sessions", async () => {
    const h = await harness();
    const other = await h.newSession({ agent: "someone-else" });
    expect(await killAgent(h.store, "support-refunds", { by: "cli", reason: "agent off" })).toEqual(
      [h.session.id],
    );
    expect(refused(await h.guard.call("get_balance", {})).code).toBe("session_killed");
    ok(await other.guard.call("get_balance", {}));
    expect(await killAll(h.store, { by: "cli", reason: "everything off" })).toEqual([
      other.session.id,
    ]);
    expect(refused(await other.guard.call("get_balance", {})).code).toBe("session_killed");
  });

  it("a flag file kills the session, for good, even once removed", async () => {
    const h = await harness();
    writeKillFlag(h.home, h.session.id, "  suspicious refunds sk_test_abcdef  \n");
    const outcome = refused(await h.guard.call("get_balance", {}));
    expect(outcome.code).toBe("session_killed");
    expect(outcome.message).toContain("suspicious refunds [redacted]");
    expect(await h.store.getSession(h.session.id)).toMatchObject({
      state: "killed",
      killed_by: "flag-file",
    });
    removeKillFlag(h.home, h.session.id);
    expect(refused(await h.guard.call("get_balance", {})).code).toBe("session_killed");
  });

  it("the ALL flag kills every session, including ones started after it", async () => {
    const h = await harness();
    writeKillFlag(h.home, "ALL", "incident");
    expect(refused(await h.guard.call("get_balance", {})).code).toBe("session_killed");
    const later = await h.newSession();
    expect(refused(await later.guard.call("get_balance", {})).code).toBe("session_killed");
  });

  it("a kill that lands while Stripe is being read stops the write before it leaves", async () => {
    const h = await harness();
    h.world.duringResolve = () => writeKillFlag(h.home, h.session.id, "stop now");
    const outcome = refused(await h.guard.call("issue_refund", refund()));
    expect(outcome.code).toBe("session_killed");
    expect(h.world.writesOf("issue_refund")).toEqual([]);
    expect(await admissions(h)).toMatchObject([{ state: "released" }]);
    expect(await lastAudit(h)).toMatchObject({
      decision: "deny",
      code: "session_killed",
      outcome: "denied",
    });
    expect(await audit(h)).toHaveLength(1);
  });

  it("end_session ends it for good", async () => {
    const h = await harness();
    ok(await h.guard.call("end_session", { reason: "task done" }));
    expect(await h.store.getSession(h.session.id)).toMatchObject({
      state: "ended",
      killed_by: "agent",
      kill_reason: "task done",
    });
    expect(refused(await h.guard.call("get_balance", {})).code).toBe("session_ended");
    expect(refused(await h.guard.call("end_session", {})).code).toBe("session_ended");
  });

  it("session_status shows what is left", async () => {
    const h = await harness();
    ok(await h.guard.call("issue_refund", refund()));
    const status = ok(await h.guard.call("session_status", {}));
    expect(status.output).toEqual({ state: "active", per_session_left: 20_000 });
  });

  it("a session expires after session_ttl; a policy after expires_at", async () => {
    const h = await harness(`${BASE_POLICY}session_ttl: 1h\n`);
    h.clock.advance(3_600_000 - 1);
    ok(await h.guard.call("get_balance", {}));
    h.clock.advance(1);
    expect(refused(await h.guard.call("get_balance", {})).code).toBe("session_expired");
    expect((await h.store.getSession(h.session.id))?.state).toBe("expired");

    const p = await harness(`${BASE_POLICY}expires_at: 2026-03-02T10:00:00Z\n`);
    ok(await p.guard.call("get_balance", {}));
    p.clock.advance(3_600_000);
    expect(refused(await p.guard.call("get_balance", {})).code).toBe("policy_expired");
  });
});

describe("Stripe failures", () => {
  it("a refusal releases the reservation", async () => {
    const h = await harness();
    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeInvalidRequestError({
        message: "Charge ch_usd has already been refunded.",
        type: "invalid_request_error",
        code: "charge_already_refunded",
        requestId: "req_refused",
      }),
    );
    const outcome = refused(await h.guard.call("issue_refund", refund()));
    expect(outcome).toMatchObject({
      code: "stripe_error",
      hint: "The charge is already fully refunded.",
    });
    expect(await admissions(h)).toMatchObject([{ state: "released" }]);
    expect(await lastAudit(h)).toMatchObject({
      decision: "allow",
      outcome: "failed",
      code: "stripe_error",
      stripe_request_id: "req_refused",
    });
    expect(
      (
        await h.store.usage({
          session: h.session.id,
          agent: h.session.agent,
          tool: "x",
          customer: null,
          at: h.clock.now,
        })
      ).sessionSpend,
    ).toBe(0);
  });

  it("a 500 leaves it unknown (still counted); repeating the call confirms and settles it", async () => {
    const h = await harness();
    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeAPIError({ message: "boom", type: "api_error" }),
    );
    const first = refused(await h.guard.call("issue_refund", refund()));
    expect(first.code).toBe("outcome_unknown");
    expect(first.message).toContain("being confirmed");
    expect(await admissions(h)).toMatchObject([{ state: "unknown", amount_cap: 5_000 }]);
    expect(await lastAudit(h)).toMatchObject({ outcome: "unknown", code: "outcome_unknown" });

    const again = ok(await h.guard.call("issue_refund", refund()));
    expect(again.output.spendguard).toMatchObject({ replayed: true, session_left: 20_000 });
    expect(again.text).toContain("nothing was done twice");
    // No second reservation: the repeat is counted as a call that moves nothing.
    expect((await admissions(h)).map((a) => [a.state, a.amount_cap, a.repeat_of])).toEqual([
      ["settled", 5_000, null],
      ["settled", 0, (await admissions(h))[0]?.id],
    ]);
    expect(await lastAudit(h)).toMatchObject({ outcome: "replayed", decision: "allow" });
    const keys = h.world.writesOf("issue_refund").map((c) => c.idempotencyKey);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });

  it("a broken connection is unknown too; a refused connection is not", async () => {
    const h = await harness();
    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeConnectionError({ message: "socket hang up" }),
    );
    expect(refused(await h.guard.call("issue_refund", refund())).code).toBe("outcome_unknown");
    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeConnectionError({ message: "connect ECONNREFUSED 127.0.0.1:9" }),
    );
    expect(
      refused(await h.guard.call("issue_refund", refund("ch_usd", { amount: 100 }))).code,
    ).toBe("stripe_unavailable");
    expect((await admissions(h)).map((a) => a.state)).toEqual(["unknown", "released"]);
  });

  it("a read that fails on Stripe's side is simply unavailable", async () => {
    const h = await harness();
    h.world.failNext(
      "lookup_charge",
      new Stripe.errors.StripeAPIError({ message: "boom", type: "api_error" }),
    );
    expect(refused(await h.guard.call("lookup_charge", { charge: "ch_usd" })).code).toBe(
      "stripe_unavailable",
    );
    expect(await admissions(h)).toMatchObject([{ state: "released" }]);
  });

  it("a failure reading Stripe before the decision is an error row, with nothing reserved", async () => {
    const h = await harness();
    h.world.failResolve(
      "lookup_charge",
      new Stripe.errors.StripeInvalidRequestError({
        message: "No such charge: 'ch_nope'",
        code: "resource_missing",
      }),
    );
    const outcome = refused(await h.guard.call("lookup_charge", { charge: "ch_nope" }));
    expect(outcome).toMatchObject({
      code: "stripe_error",
      hint: "Check the id; it does not exist on this account.",
    });
    expect(await lastAudit(h)).toMatchObject({
      decision: "error",
      outcome: "failed",
      code: "stripe_error",
    });
    expect(await admissions(h)).toEqual([]);
  });

  it("a bug in a tool is an internal error: audited once, logged, never thrown; a write stays counted", async () => {
    const h = await harness();
    h.world.failNext("issue_refund", new TypeError("cannot read properties of undefined"));
    const outcome = refused(await h.guard.call("issue_refund", refund()));
    expect(outcome.code).toBe("internal_error");
    expect(outcome.message).not.toContain("undefined");
    expect(await admissions(h)).toMatchObject([{ state: "unknown" }]);
    expect(await lastAudit(h)).toMatchObject({
      outcome: "unknown",
      code: "internal_error",
      decision: "allow",
    });

    h.world.failResolve("lookup_charge", new RangeError("bad"));
    expect(refused(await h.guard.call("lookup_charge", { charge: "ch_usd" })).code).toBe(
      "internal_error",
    );
    expect(await lastAudit(h)).toMatchObject({
      decision: "error",
      code: "internal_error",
      outcome: "failed",
    });
    expect(await audit(h)).toHaveLength(2);
  });
});

describe("idempotency", () => {
  it("the same refund twice: one reservation, Stripe's first result back, marked replayed", async () => {
    const h = await harness();
    ok(await h.guard.call("issue_refund", refund()));
    const again = ok(await h.guard.call("issue_refund", { reason: "duplicate", charge: "ch_usd" }));
    // Answered from what was recorded of the first: Stripe is not asked again.
    expect(again.output).toMatchObject({
      refund: "re_1",
      spendguard: { replayed: true, session_left: 20_000 },
    });
    expect((await admissions(h)).map((a) => [a.amount_cap, a.repeat_of])).toEqual([
      [5_000, null],
      [0, (await admissions(h))[0]?.id],
    ]);
    expect(h.world.writesOf("issue_refund")).toHaveLength(1);
    expect((await audit(h)).map((r) => r.outcome)).toEqual(["ok", "replayed"]);
  });

  it("different arguments, another session or a refused first attempt mean a new request", async () => {
    const h = await harness();
    ok(await h.guard.call("issue_refund", refund()));
    ok(await h.guard.call("issue_refund", refund("ch_usd", { amount: 100 })));
    const other = await h.newSession();
    ok(await other.guard.call("issue_refund", refund()));
    const keys = new Set(h.world.writesOf("issue_refund").map((c) => c.idempotencyKey));
    expect(keys.size).toBe(3);

    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeCardError({ message: "declined", code: "card_declined" }),
    );
    refused(await h.guard.call("issue_refund", refund("ch_acme2", { amount: 100 })));
    ok(await h.guard.call("issue_refund", refund("ch_acme2", { amount: 100 })));
    expect((await admissions(h)).map((a) => a.state)).toEqual([
      "settled",
      "settled",
      "released",
      "settled",
    ]);
  });

  it("a request another live process is sending is sent again without a second reservation", async () => {
    const h = await harness();
    const key = idempotencyKey(h.session.id, "issue_refund", null, {
      charge: "ch_usd",
      reason: "duplicate",
    });
    const inFlight = await h.store.admit(inFlightRequest(h, key, process.ppid), () => ({
      outcome: "allow",
      rule: "t",
      reason: "t",
    }));
    if (!inFlight.admitted) throw new Error("setup");
    const outcome = ok(await h.guard.call("issue_refund", refund()));
    expect(outcome.output.spendguard).toMatchObject({ replayed: true });
    expect((await h.store.getAdmission(inFlight.admission.id))?.state).toBe("reserved"); // its owner settles it
    // Inside the key's life it is sent again with the same key; the repeat reserves nothing.
    expect(
      (await admissions(h)).filter((a) => a.tool === "issue_refund").map((a) => a.amount_cap),
    ).toEqual([5_000, 0]);
    const [sent] = h.world.writesOf("issue_refund");
    expect(sent?.idempotencyKey).toBe(key);
  });

  it("a request whose process died is adopted and settled", async () => {
    const h = await harness();
    const key = idempotencyKey(h.session.id, "issue_refund", null, {
      charge: "ch_usd",
      reason: "duplicate",
    });
    const orphan = await h.store.admit(inFlightRequest(h, key, deadPid()), () => ({
      outcome: "allow",
      rule: "t",
      reason: "t",
    }));
    if (!orphan.admitted) throw new Error("setup");
    ok(await h.guard.call("issue_refund", refund()));
    expect((await h.store.getAdmission(orphan.admission.id))?.state).toBe("settled");
  });
});

function inFlightRequest(h: Harness, key: string, pid: number): AdmissionRequest {
  return {
    session: h.session.id,
    agent: h.session.agent,
    tool: "issue_refund",
    customer: "cus_acme1",
    call_key: key,
    idempotency_key: key,
    repeat_of: null,
    amount: 5_000,
    currency: "usd",
    amount_cap: 5_000,
    revenue_at_risk_cap: null,
    cancellation: false,
    args: '{"charge":"ch_usd","reason":"duplicate"}',
    account: null,
    owner_pid: pid,
    owner_host: null,
    owner_instance: null,
    created_at: h.clock.now,
  };
}

describe("reconcile", () => {
  it("settles unknown outcomes and orphaned reservations by replaying them", async () => {
    const h = await harness();
    h.world.failNext("issue_refund", new Stripe.errors.StripeAPIError({ message: "boom" }));
    refused(await h.guard.call("issue_refund", refund()));
    const orphan = await h.store.admit(inFlightRequest(h, "sg_orphan", deadPid()), () => ({
      outcome: "allow",
      rule: "t",
      reason: "t",
    }));
    if (!orphan.admitted) throw new Error("setup");
    const live = await h.store.admit(inFlightRequest(h, "sg_live", process.ppid), () => ({
      outcome: "allow",
      rule: "t",
      reason: "t",
    }));

    const report = await h.guard.reconcile();
    expect(report).toMatchObject({
      checked: 2,
      settled: 2,
      released: 0,
      unresolved: 0,
      skipped: 0,
    });
    expect((await admissions(h)).map((a) => a.state)).toEqual(["settled", "settled", "reserved"]);
    expect(live.admitted && (await h.store.getAdmission(live.admission.id))?.state).toBe(
      "reserved",
    );
    const rows = (await audit(h)).filter((r) => r.outcome === "reconciled");
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({
      idempotency_key: "sg_orphan",
      decision: "allow",
      rule: "reconcile",
      amount_cap: 5_000,
    });
    expect(h.world.writesOf("issue_refund").map((c) => c.idempotencyKey)).toContain("sg_orphan");
  });

  it("releases a read cut short by a crash, without calling anything", async () => {
    const h = await harness();
    const read = await h.store.admit(
      {
        ...inFlightRequest(h, "unused", deadPid()),
        tool: "lookup_charge",
        idempotency_key: null,
        amount: 0,
        currency: null,
        amount_cap: 0,
      },
      () => ({ outcome: "allow", rule: "t", reason: "t" }),
    );
    if (!read.admitted) throw new Error("setup");
    expect(await h.guard.reconcile()).toMatchObject({ checked: 1, released: 1 });
    expect((await h.store.getAdmission(read.admission.id))?.state).toBe("released");
    expect(h.world.handled).toEqual([]);
    expect(await lastAudit(h)).toMatchObject({ tool: "lookup_charge", outcome: "reconciled" });
  });

  it("releases what Stripe refuses, leaves what is still unclear, skips killed sessions and other agents", async () => {
    const h = await harness();
    const allowAll = () => ({ outcome: "allow" as const, rule: "t", reason: "t" });
    const refusedOne = await h.store.admit(inFlightRequest(h, "sg_a", deadPid()), allowAll);
    const unclear = await h.store.admit(inFlightRequest(h, "sg_b", deadPid()), allowAll);
    const foreign = await h.newSession({ agent: "other-agent" });
    await h.store.admit(
      {
        ...inFlightRequest(h, "sg_c", deadPid()),
        session: foreign.session.id,
        agent: "other-agent",
      },
      allowAll,
    );
    h.world.failNext(
      "issue_refund",
      new Stripe.errors.StripeInvalidRequestError({
        message: "No such charge",
        code: "resource_missing",
      }),
      new Stripe.errors.StripeAPIError({ message: "still down" }),
    );
    const report = await h.guard.reconcile();
    expect(report).toMatchObject({ checked: 2, released: 1, unresolved: 1 });
    expect(
      refusedOne.admitted && (await h.store.getAdmission(refusedOne.admission.id))?.state,
    ).toBe("released");
    // Replayed without a clear answer: it may have gone through now, so it counts as unknown.
    expect(unclear.admitted && (await h.store.getAdmission(unclear.admission.id))?.state).toBe(
      "unknown",
    );

    await killSession(h.store, h.session.id, { by: "cli", reason: "stop" });
    // A killed session's write is never sent again: only reading Stripe may settle it.
    const writes = h.world.writesOf("issue_refund").length;
    const afterKill = await h.guard.reconcile();
    expect(afterKill).toMatchObject({ checked: 1, released: 1 });
    expect(afterKill.items[0]?.detail).toContain("no refund carries its stamp");
    expect(h.world.writesOf("issue_refund")).toHaveLength(writes);
  });
});

describe("the audit", () => {
  it("has exactly one row per call, whatever happened, and verifies", async () => {
    const h = await harness();
    const calls: [string, unknown][] = [
      ["issue_refund", refund()],
      ["issue_refund", refund()],
      ["lookup_charge", { charge: "ch_globex" }],
      ["nope", {}],
      ["issue_refund", { charge: 1 }],
      ["list_charges", {}],
      ["session_status", {}],
      ["issue_refund", refund("ch_big")],
    ];
    h.world.failNext("list_charges", new Stripe.errors.StripeAPIError({ message: "x" }));
    for (const [tool, args] of calls) await h.guard.call(tool, args);
    expect((await audit(h)).map((r) => [r.tool, r.outcome])).toEqual([
      ["issue_refund", "ok"],
      ["issue_refund", "replayed"],
      ["lookup_charge", "denied"],
      ["nope", "invalid"],
      ["issue_refund", "invalid"],
      ["list_charges", "failed"],
      ["session_status", "ok"],
      ["issue_refund", "denied"],
    ]);
    expect(await verifyAudit(h.store)).toEqual({ ok: true, rows: 8 });
  });

  it("redacts secret-looking arguments", async () => {
    const h = await harness();
    await h.guard.call(
      "issue_refund",
      refund("ch_usd", { note: `key is ${fakeStripeKey("rk", "live", "abcdef123")}` }),
    );
    await h.guard.call("lookup_charge", { charge: "ch_usd", api_key: "hunter2" });
    const [first, second] = await audit(h);
    expect(first?.args).toBe('{"charge":"ch_usd","note":"key is [redacted]","reason":"duplicate"}');
    expect(second?.args).toBe('{"api_key":"[redacted]","charge":"ch_usd"}');
    expect(JSON.stringify(await h.store.listAdmissions({}))).not.toContain(
      fakeStripeKey("rk", "live", ""),
    );
  });
});
