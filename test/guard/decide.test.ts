import { describe, expect, it } from "vitest";
import { approvalDeclined, approvalTimedOut } from "../../src/approvals/rules.js";
import { DENY_CODES } from "../../src/errors.js";
import { type CallFacts, decide } from "../../src/guard/decide.js";
import type { Decision } from "../../src/policy/decision.js";
import { parsePolicy } from "../../src/policy/load.js";
import type { UsageSnapshot } from "../../src/store/store.js";
import type { AnyTool, Resolution } from "../../tools/tool.js";
import { BASE_POLICY } from "./fixtures/policies.js";
import { customer, FakeWorld, fakeTools } from "./fixtures/tools.js";

/** The decision as a pure function: every code, from facts alone — no store, no clock. */

const tools = fakeTools(new FakeWorld());
const tool = (name: string): AnyTool => {
  const found = tools.find((t) => t.name === name);
  if (!found) throw new Error(`no fake tool ${name}`);
  return found;
};
const NOW = Date.parse("2026-03-02T09:00:00Z");
const acme = customer("cus_acme1", "acme");
const globex = customer("cus_globex1", "globex", "private@globex.test");

const noUsage: UsageSnapshot = {
  sessionSpend: 0,
  daySpend: 0,
  customerDaySpend: 0,
  toolCallsSession: 0,
  toolCallsHour: 0,
  cancellationsSession: 0,
  cancellationsDay: 0,
};

type Resolved = Pick<Resolution<unknown>, "customer" | "moves" | "revenueAtRisk" | "attributes">;

const refundOf = (amount: number, currency = "usd", chargeAmount = 50_000): Resolved => ({
  customer: acme,
  moves: { amount, currency },
  attributes: { refund_fraction: amount / chargeAmount },
});

function decideWith(options: {
  policy?: string;
  tool?: string;
  args?: Record<string, unknown>;
  account?: string | null;
  session?: Partial<CallFacts["session"]>;
  killFlag?: CallFacts["killFlag"];
  readOnly?: boolean;
  now?: number;
  resolved?: Resolved | null;
  usage?: Partial<UsageSnapshot>;
}): Decision {
  const facts: CallFacts = {
    policy: parsePolicy(options.policy ?? BASE_POLICY, "p.yaml", tools),
    tool: tool(options.tool ?? "issue_refund"),
    args: options.args ?? { charge: "ch_x", reason: "duplicate" },
    account: options.account ?? null,
    session: {
      state: "active",
      expiresAt: null,
      killedBy: null,
      killReason: null,
      ...options.session,
    },
    killFlag: options.killFlag ?? null,
    now: options.now ?? NOW,
    readOnly: options.readOnly ?? false,
  };
  const resolved = options.resolved === undefined ? refundOf(1_000) : options.resolved;
  const decision = decide(facts, resolved, { ...noUsage, ...options.usage });
  if (decision.outcome === "deny") seen.add(decision.code);
  return decision;
}

/** Every code some test below produced. */
const seen = new Set<string>();

const codeOf = (decision: Decision) => (decision.outcome === "deny" ? decision.code : "allow");

describe("decide", () => {
  it("allows a refund in scope, within every cap and rule", () => {
    expect(decideWith({})).toEqual({
      outcome: "allow",
      rule: "caps",
      reason: "within every cap and limit",
    });
  });

  describe("session and policy state", () => {
    it("session_killed, by the session row or by a flag file", () => {
      const byRow = decideWith({
        session: { state: "killed", killedBy: "cli", killReason: "runaway" },
      });
      expect(byRow).toMatchObject({ code: "session_killed", rule: "session.state" });
      expect(byRow.reason).toContain("stopped by the operator (runaway)");
      const byFlag = decideWith({ killFlag: { file: "/h/kill/ALL", reason: "incident 42" } });
      expect(byFlag).toMatchObject({ code: "session_killed", rule: "kill flag" });
      expect(byFlag.reason).toContain("incident 42");
    });

    it("session_ended after end_session", () => {
      expect(codeOf(decideWith({ session: { state: "ended" } }))).toBe("session_ended");
    });

    it("session_expired by its state or by the time", () => {
      expect(codeOf(decideWith({ session: { state: "expired" } }))).toBe("session_expired");
      expect(codeOf(decideWith({ session: { expiresAt: NOW } }))).toBe("session_expired");
      expect(codeOf(decideWith({ session: { expiresAt: NOW + 1 } }))).toBe("allow");
    });

    it("policy_expired at expires_at", () => {
      const policy = `${BASE_POLICY}expires_at: 2026-03-02T09:00:00Z\n`;
      const decision = decideWith({ policy });
      expect(decision).toMatchObject({ code: "policy_expired", rule: "expires_at" });
      expect(decision.reason).toContain("2026-03-02T09:00:00.000Z");
      expect(codeOf(decideWith({ policy, now: NOW - 1 }))).toBe("allow");
    });

    it("a killed session is refused even for session tools", () => {
      expect(
        codeOf(decideWith({ tool: "session_status", args: {}, session: { state: "killed" } })),
      ).toBe("session_killed");
    });
  });

  describe("tools and accounts", () => {
    it("tool_not_allowed for a tool the policy does not list", () => {
      const decision = decideWith({
        tool: "cancel_subscription",
        args: { subscription: "sub_1", at_period_end: true },
      });
      expect(decision).toMatchObject({ code: "tool_not_allowed", rule: "tools" });
      expect(decision.reason).toContain("'cancel_subscription' is not allowed");
    });

    it("tool_not_allowed for a write tool on a read-only server, even if listed", () => {
      expect(decideWith({ readOnly: true })).toMatchObject({
        code: "tool_not_allowed",
        rule: "read-only",
      });
      expect(
        codeOf(
          decideWith({
            readOnly: true,
            tool: "lookup_charge",
            args: { charge: "ch_x" },
            resolved: { customer: acme },
          }),
        ),
      ).toBe("allow");
    });

    it("session tools are always allowed, unlisted", () => {
      expect(decideWith({ tool: "session_status", args: {}, resolved: null })).toMatchObject({
        outcome: "allow",
      });
    });

    it("account_out_of_scope for a connected account not listed", () => {
      const policy = `${BASE_POLICY}connected_accounts: [acct_good]\n`;
      expect(codeOf(decideWith({ policy, account: "acct_good" }))).toBe("allow");
      const decision = decideWith({ policy, account: "acct_evil" });
      expect(decision).toMatchObject({ code: "account_out_of_scope", rule: "connected_accounts" });
      expect(decision.reason).toContain("Allowed: acct_good");
      expect(codeOf(decideWith({ account: "acct_good" }))).toBe("account_out_of_scope");
    });
  });

  describe("parameter rules", () => {
    it("param_not_allowed for an argument outside the policy's set", () => {
      const decision = decideWith({ args: { charge: "ch_x", reason: "fraudulent" } });
      expect(decision).toMatchObject({
        code: "param_not_allowed",
        rule: "tools.issue_refund.params.reason",
      });
      expect(decision.reason).toBe(
        'issue_refund refused: reason must be one of "duplicate", "requested_by_customer" (got "fraudulent"). Retry with an allowed value.',
      );
    });

    it("param_not_allowed for a derived value over its max (refund_fraction)", () => {
      const policy = BASE_POLICY.replace("        max: 1", "        max: 0.5");
      const decision = decideWith({ policy, resolved: refundOf(40_000) });
      expect(decision).toMatchObject({
        code: "param_not_allowed",
        rule: "tools.issue_refund.params.refund_fraction",
      });
      expect(decision.reason).toContain("refund_fraction must be at most 0.5 (got 0.8)");
      expect(
        codeOf(decideWith({ policy, resolved: refundOf(25_000, "usd", 50_000), usage: {} })),
      ).not.toBe("param_not_allowed");
    });

    it("a tool's default rule applies unless the policy states its own", () => {
      const policy = BASE_POLICY.replace(
        "  get_balance:",
        "  get_balance:\n  cancel_subscription:",
      );
      const cancel = (at_period_end: boolean, p = policy) =>
        decideWith({
          policy: p,
          tool: "cancel_subscription",
          args: { subscription: "sub_1", at_period_end },
          resolved: { customer: acme, revenueAtRisk: { amount: 4_900, currency: "usd" } },
        });
      expect(codeOf(cancel(true))).toBe("allow");
      expect(cancel(false)).toMatchObject({
        code: "param_not_allowed",
        rule: "cancel_subscription default: at_period_end",
      });
      const widened = policy.replace(
        "  cancel_subscription:",
        "  cancel_subscription:\n    params:\n      at_period_end:\n        in: [true, false]",
      );
      expect(codeOf(cancel(false, widened))).toBe("allow");
    });

    it("a rule on an argument that was left out refuses (a limit is not met by silence)", () => {
      const policy = BASE_POLICY.replace(
        "      refund_fraction:",
        "      amount:\n        max: 5000\n      refund_fraction:",
      );
      const decision = decideWith({ policy, args: { charge: "ch_x", reason: "duplicate" } });
      expect(decision).toMatchObject({
        code: "param_not_allowed",
        rule: "tools.issue_refund.params.amount",
      });
      expect(decision.reason).toContain(
        "amount to be at most 5000, so it must be given explicitly",
      );
      expect(
        codeOf(
          decideWith({ policy, args: { charge: "ch_x", reason: "duplicate", amount: 4_000 } }),
        ),
      ).toBe("allow");
      expect(
        codeOf(
          decideWith({ policy, args: { charge: "ch_x", reason: "duplicate", amount: 6_000 } }),
        ),
      ).toBe("param_not_allowed");
    });
  });

  describe("customer scope", () => {
    it("customer_out_of_scope, saying nothing about the customer", () => {
      const decision = decideWith({ resolved: { ...refundOf(1_000), customer: globex } });
      expect(decision).toMatchObject({ code: "customer_out_of_scope", rule: "customers" });
      expect(decision.reason).toContain("customer out of scope");
      for (const secret of ["globex", "private", "cus_globex1"])
        expect(decision.reason).not.toContain(secret);
    });

    it("customer_out_of_scope for an object with no customer unless allowed", () => {
      expect(decideWith({ resolved: { ...refundOf(1_000), customer: null } })).toMatchObject({
        code: "customer_out_of_scope",
        rule: "customers.allow_no_customer",
      });
      const policy = BASE_POLICY.replace(
        "    tenant: acme",
        "    tenant: acme\n  allow_no_customer: true",
      );
      expect(codeOf(decideWith({ policy, resolved: { ...refundOf(1_000), customer: null } }))).toBe(
        "allow",
      );
    });

    it("list and account tools are not refused for scope (lists filter instead)", () => {
      expect(
        codeOf(
          decideWith({ tool: "list_charges", args: { limit: 5 }, resolved: { customer: null } }),
        ),
      ).toBe("allow");
      expect(
        codeOf(decideWith({ tool: "get_balance", args: {}, resolved: { customer: null } })),
      ).toBe("allow");
    });
  });

  describe("money", () => {
    it("currency_not_convertible for money in a currency with no rate", () => {
      const decision = decideWith({ resolved: refundOf(1_000, "gbp") });
      expect(decision).toMatchObject({ code: "currency_not_convertible", rule: "fx" });
      expect(decision.reason).toContain("no exchange rate from gbp to usd");
    });

    it("approval_required above require_approval_over", () => {
      const policy = `${BASE_POLICY}require_approval_over: 50\n`;
      expect(codeOf(decideWith({ policy, resolved: refundOf(5_000) }))).toBe("allow");
      const decision = decideWith({ policy, resolved: refundOf(5_001) });
      expect(decision).toMatchObject({ code: "approval_required", rule: "require_approval_over" });
      expect(decision.reason).toContain("amounts over $50.00 need a person's approval");
    });

    it("approval_required for the tools require_approval_for names, with or without conditions", () => {
      const policy = BASE_POLICY.replace(
        "  get_balance:",
        "  get_balance:\n  cancel_subscription:\n    params:\n      at_period_end:\n        in: [true, false]",
      ).concat(
        "require_approval_for:\n  - lookup_charge\n  - tool: cancel_subscription\n    params:\n      at_period_end:\n        equals: false\n  - tool: issue_refund\n    params:\n      amount:\n        min: 2000\n",
      );
      const lookup = decideWith({
        policy,
        tool: "lookup_charge",
        args: { charge: "ch_x" },
        resolved: { customer: acme },
      });
      expect(lookup).toMatchObject({ code: "approval_required", rule: "require_approval_for[0]" });
      expect(lookup.reason).toBe(
        "lookup_charge refused: every lookup_charge needs a person's approval. Nothing was changed.",
      );
      const cancel = (at_period_end: boolean) =>
        decideWith({
          policy,
          tool: "cancel_subscription",
          args: { subscription: "sub_1", at_period_end },
          resolved: { customer: acme, revenueAtRisk: { amount: 4_900, currency: "usd" } },
        });
      expect(codeOf(cancel(true))).toBe("allow");
      expect(cancel(false)).toMatchObject({
        code: "approval_required",
        rule: "require_approval_for[1]",
      });
      expect(cancel(false).reason).toContain(
        "cancel_subscription with at_period_end false needs a person's approval",
      );
      const refund = (args: Record<string, unknown>) =>
        codeOf(decideWith({ policy, args: { charge: "ch_x", reason: "duplicate", ...args } }));
      expect(refund({ amount: 1_999 })).toBe("allow");
      expect(refund({ amount: 2_000 })).toBe("approval_required");
      // A condition on a value the call does not state counts as met: ask rather than guess.
      expect(refund({})).toBe("approval_required");
    });

    it("approval_declined and approval_timeout: what a person's no, or their silence, tells the agent", () => {
      const call = {
        tool: "issue_refund",
        charge: {
          moves: { amount: 6_000, currency: "usd" },
          amountCap: 6_000,
          capCurrency: "usd",
          revenueAtRiskCap: null,
          cancellation: false,
        },
        need: {
          rule: "require_approval_over",
          why: "amounts over $50.00 need a person's approval",
        },
      };
      const request = {
        id: "apr_1",
        expires_at: NOW,
        decided_by: "cli",
        decision_reason: "not this customer",
      };
      const declined = approvalDeclined(call, request);
      const timedOut = approvalTimedOut(call, request, "50s");
      for (const decision of [declined, timedOut]) seen.add(decision.code);
      expect(declined).toMatchObject({ code: "approval_declined", rule: "require_approval_over" });
      expect(declined.reason).toBe(
        "issue_refund of $60.00 refused: a person declined it (approval apr_1, cli: not this customer). Nothing was changed; do not retry this call — the same call is refused until 2026-03-02T09:00:00.000Z.",
      );
      expect(timedOut).toMatchObject({ code: "approval_timeout", rule: "require_approval_over" });
      expect(timedOut.reason).toBe(
        "issue_refund of $60.00 refused: nobody answered approval request apr_1 within 50s (amounts over $50.00 need a person's approval). Nothing was changed; ask the user whether to try again.",
      );
    });

    it("cap_per_call", () => {
      const decision = decideWith({ resolved: refundOf(10_001) });
      expect(decision).toMatchObject({ code: "cap_per_call", rule: "caps.per_call" });
      expect(decision.reason).toBe(
        "issue_refund of $100.01 refused: over the $100.00 per-call cap. Amounts up to $100.00 per call are still possible.",
      );
      expect(codeOf(decideWith({ resolved: refundOf(10_000) }))).toBe("allow");
    });

    it("cap_session, saying what is left", () => {
      const decision = decideWith({ resolved: refundOf(6_000), usage: { sessionSpend: 21_000 } });
      expect(decision).toMatchObject({ code: "cap_session", rule: "caps.per_session" });
      expect(decision.reason).toBe(
        "issue_refund of $60.00 refused: only $40.00 left of the $250.00 session cap. Smaller amounts up to $40.00 are still possible.",
      );
      expect(
        codeOf(decideWith({ resolved: refundOf(4_000), usage: { sessionSpend: 21_000 } })),
      ).toBe("allow");
      const none = decideWith({ resolved: refundOf(1), usage: { sessionSpend: 25_000 } });
      expect(none.reason).toContain("nothing left of the $250.00 session cap");
    });

    it("cap_day", () => {
      const decision = decideWith({ resolved: refundOf(5_000), usage: { daySpend: 96_000 } });
      expect(decision).toMatchObject({ code: "cap_day", rule: "caps.per_day" });
      expect(decision.reason).toContain("only $40.00 left of the $1,000.00 daily cap");
    });

    it("cap_customer_day (only for calls that have a customer)", () => {
      const decision = decideWith({
        resolved: refundOf(5_000),
        usage: { customerDaySpend: 16_000 },
      });
      expect(decision).toMatchObject({
        code: "cap_customer_day",
        rule: "caps.per_customer_per_day",
      });
      expect(decision.reason).toContain(
        "only $40.00 left of the $200.00 daily cap for this customer",
      );
    });

    it("converts before comparing: €50.00 at 1.1 is $55.00", () => {
      const decision = decideWith({
        resolved: refundOf(5_000, "eur"),
        usage: { sessionSpend: 20_000 },
      });
      expect(decision).toMatchObject({ code: "cap_session" });
      expect(decision.reason).toContain(
        "issue_refund of €50.00 (≈ $55.00) refused: only $50.00 left",
      );
      expect(
        codeOf(decideWith({ resolved: refundOf(5_000, "eur"), usage: { sessionSpend: 19_500 } })),
      ).toBe("allow");
      const yen = decideWith({ resolved: refundOf(1_000_000, "jpy", 2_000_000) });
      expect(yen.reason).toContain("¥1,000,000 (≈ $6,700.00)");
    });

    it("cancellations are capped by count, as cap_session and cap_day", () => {
      const policy = BASE_POLICY.replace(
        "  get_balance:",
        "  get_balance:\n  cancel_subscription:",
      ).replace(
        "  per_customer_per_day: 200",
        "  per_customer_per_day: 200\n  cancellations_per_session: 2\n  cancellations_per_day: 5",
      );
      const cancel = (usage: Partial<UsageSnapshot>) =>
        decideWith({
          policy,
          tool: "cancel_subscription",
          args: { subscription: "sub_1", at_period_end: true },
          resolved: { customer: acme, revenueAtRisk: { amount: 4_900, currency: "usd" } },
          usage,
        });
      expect(codeOf(cancel({ cancellationsSession: 1 }))).toBe("allow");
      expect(cancel({ cancellationsSession: 2 })).toMatchObject({
        code: "cap_session",
        rule: "caps.cancellations_per_session",
      });
      expect(cancel({ cancellationsDay: 5 })).toMatchObject({
        code: "cap_day",
        rule: "caps.cancellations_per_day",
      });
      // Money caps do not apply: nothing moves now.
      expect(codeOf(cancel({ sessionSpend: 25_000 }))).toBe("allow");
    });
  });

  describe("call limits", () => {
    const policy = BASE_POLICY.replace(
      "        max: 1",
      "        max: 1\n    calls_per_session: 3\n    calls_per_hour: 5",
    ).concat("limits:\n  calls_per_session: 2\n");

    it("rate_limited per session, the tool's own limit overriding the policy default", () => {
      expect(codeOf(decideWith({ policy, usage: { toolCallsSession: 2 } }))).toBe("allow");
      const decision = decideWith({ policy, usage: { toolCallsSession: 3 } });
      expect(decision).toMatchObject({
        code: "rate_limited",
        rule: "tools.issue_refund.calls_per_session",
      });
      expect(decision.reason).toContain("at most 3 call(s) of it per session");
    });

    it("rate_limited per hour", () => {
      expect(decideWith({ policy, usage: { toolCallsHour: 5 } })).toMatchObject({
        code: "rate_limited",
        rule: "tools.issue_refund.calls_per_hour",
      });
    });

    it("the policy-wide default applies to tools without their own", () => {
      const read = (calls: number) =>
        decideWith({
          policy,
          tool: "lookup_charge",
          args: { charge: "ch_x" },
          resolved: { customer: acme },
          usage: { toolCallsSession: calls },
        });
      expect(codeOf(read(1))).toBe("allow");
      expect(read(2)).toMatchObject({ code: "rate_limited", rule: "limits.calls_per_session" });
    });
  });

  it("has produced every deny code of the contract (run last)", () => {
    expect(DENY_CODES.filter((code) => !seen.has(code))).toEqual([]);
  });
});
