import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { parsePolicy } from "../../src/policy/load.js";
import { BASE_POLICY } from "../guard/fixtures/policies.js";
import { FakeWorld, fakeTools } from "../guard/fixtures/tools.js";

/** The approval fields of a policy: defaults, the two forms of a rule, and what is refused. */

const tools = fakeTools(new FakeWorld());
const parse = (extra: string) => parsePolicy(`${BASE_POLICY}${extra}`, "p.yaml", tools);

function problemsOf(extra: string): string {
  try {
    parse(extra);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected the policy to be refused");
}

describe("approval fields", () => {
  it("default to no approvals, requests living 15 minutes, 50 s to answer in the client", () => {
    const loaded = parse("");
    expect(loaded.caps.approvalOver).toBeNull();
    expect(loaded.policy.require_approval_for).toEqual([]);
    expect(loaded.approvalTtlMs).toBe(15 * 60_000);
    expect(loaded.approvalTimeoutMs).toBe(50_000);
  });

  it("take a tool name or a tool with parameter rules", () => {
    const loaded = parse(
      [
        "require_approval_over: 75",
        "require_approval_for:",
        "  - lookup_charge",
        "  - tool: issue_refund",
        "    params:",
        "      reason:",
        "        equals: fraudulent",
        "approval_ttl: 1h",
        "approval_timeout: 2m",
        "",
      ].join("\n"),
    );
    expect(loaded.caps.approvalOver).toBe(7_500);
    expect(loaded.policy.require_approval_for).toEqual([
      { tool: "lookup_charge" },
      { tool: "issue_refund", params: { reason: { equals: "fraudulent" } } },
    ]);
    expect(loaded.approvalTtlMs).toBe(3_600_000);
    expect(loaded.approvalTimeoutMs).toBe(120_000);
  });

  it("refuse tools not listed, unknown rule parameters and fields, and a wait longer than a request lives", () => {
    expect(problemsOf("require_approval_for:\n  - cancel_subscription\n")).toContain(
      'require_approval_for[0]: "cancel_subscription" is not a tool listed under tools; expected one of: lookup_charge, list_charges, get_balance, issue_refund',
    );
    expect(
      problemsOf(
        "require_approval_for:\n  - tool: issue_refund\n    params:\n      amout:\n        min: 1\n",
      ),
    ).toContain(
      'require_approval_for[0].params.amout: issue_refund has no rule parameter "amout"; expected one of: charge, payment_intent, amount, reason, refund_fraction',
    );
    expect(problemsOf("require_approval_for:\n  - tool: issue_refund\n    parms: {}\n")).toContain(
      "require_approval_for[0].parms: unknown field (did you mean params?); expected one of: tool, params",
    );
    expect(problemsOf("approval_ttl: 1m\napproval_timeout: 2m\n")).toContain(
      "approval_timeout: at most approval_ttl (1m): a request cannot wait longer than it lives",
    );
    expect(problemsOf("approval_ttl: soon\n")).toContain(
      "approval_ttl: expected a duration such as 30m, 8h or 1d",
    );
  });
});
