import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { loadPolicy, parseDuration, parsePolicy } from "../../src/policy/load.js";
import { removeTempHomes, tempHome } from "./fixtures/home.js";
import { BASE_POLICY } from "./fixtures/policies.js";
import { FakeWorld, fakeTools } from "./fixtures/tools.js";

afterAll(removeTempHomes);

const tools = fakeTools(new FakeWorld());
const POLICIES_DIR = join(import.meta.dirname, "../../policies");

function problemsOf(yaml: string): string {
  try {
    parsePolicy(yaml, "policies/bad.yaml", tools);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected the policy to be refused");
}

/** The base policy with one line replaced (or added after `after`). */
const edit = (from: string, to: string) => {
  if (!BASE_POLICY.includes(from)) throw new Error(`base policy has no ${from}`);
  return BASE_POLICY.replace(from, to);
};

describe("the ready policies", () => {
  const files = readdirSync(POLICIES_DIR).filter((f) => f.endsWith(".yaml"));

  it("are the five roles", () => {
    expect(files.sort()).toEqual([
      "analytics-readonly.yaml",
      "billing-collections.yaml",
      "dispute-handler.yaml",
      "subscription-manager.yaml",
      "support-refunds.yaml",
    ]);
  });

  it.each(files)("%s loads, named after its file", (file) => {
    const loaded = loadPolicy(join(POLICIES_DIR, file), tools);
    expect(`${loaded.name}.yaml`).toBe(file);
    expect(loaded.policy.mode).toBe("test");
  });

  it("support-refunds: refund rules, caps in cents, acme only, eur and jpy rates", () => {
    const { policy, caps, sessionTtlMs } = loadPolicy(
      join(POLICIES_DIR, "support-refunds.yaml"),
      tools,
    );
    expect(policy.tools.issue_refund?.params?.reason?.in).toEqual([
      "duplicate",
      "requested_by_customer",
    ]);
    expect(policy.tools.issue_refund?.params?.refund_fraction?.max).toBe(0.5);
    expect(caps).toMatchObject({
      currency: "usd",
      perCall: 10_000,
      perSession: 25_000,
      perDay: 100_000,
      perCustomerPerDay: 20_000,
    });
    expect(policy.customers).toEqual({ metadata: { tenant: "acme" }, allow_no_customer: false });
    expect(Object.keys(policy.fx).sort()).toEqual(["eur", "jpy"]);
    expect(sessionTtlMs).toBe(8 * 3_600_000);
  });

  it("analytics-readonly lists no write tool and sees every customer", () => {
    const { policy } = loadPolicy(join(POLICIES_DIR, "analytics-readonly.yaml"), tools);
    const writes = tools.filter((t) => t.kind === "write").map((t) => t.name);
    expect(Object.keys(policy.tools).filter((name) => writes.includes(name))).toEqual([]);
    expect(policy.customers).toBe("all");
  });

  it("subscription-manager caps cancellations by count", () => {
    const { caps } = loadPolicy(join(POLICIES_DIR, "subscription-manager.yaml"), tools);
    expect(caps.cancellationsPerSession).toBe(3);
    expect(caps.cancellationsPerDay).toBe(10);
  });
});

describe("loading", () => {
  it("hashes the file's bytes and converts caps once", () => {
    const home = tempHome();
    const file = join(home, "p.yaml");
    writeFileSync(file, BASE_POLICY);
    const loaded = loadPolicy(file, tools);
    expect(loaded.hash).toBe(createHash("sha256").update(readFileSync(file)).digest("hex"));
    expect(loaded.file).toBe(file);
    expect(loaded.caps.perSession).toBe(25_000);
    expect(loaded.caps.approvalOver).toBeNull();
    expect(loaded.sessionTtlMs).toBeNull();
  });

  it("parses require_approval_over and expires_at", () => {
    const loaded = parsePolicy(
      `${BASE_POLICY}\nrequire_approval_over: 75\nexpires_at: 2026-12-31T00:00:00Z\nsession_ttl: 30m\n`,
      "p.yaml",
      tools,
    );
    expect(loaded.caps.approvalOver).toBe(7_500);
    expect(loaded.policy.expires_at?.toISOString()).toBe("2026-12-31T00:00:00.000Z");
    expect(loaded.sessionTtlMs).toBe(30 * 60_000);
  });

  it("says so when the file is missing", () => {
    expect(() => loadPolicy("/nonexistent/policy.yaml", tools)).toThrow(
      /policy \/nonexistent\/policy.yaml cannot be read: no such file/,
    );
  });
});

describe("a policy that is not understood fails to load, naming file, line, field and expectation", () => {
  it("an unknown top-level field, with a suggestion", () => {
    const message = problemsOf(`${BASE_POLICY}cap:\n  per_day: 5\n`);
    expect(message).toContain("policy policies/bad.yaml is invalid");
    expect(message).toMatch(
      /policies\/bad\.yaml:\d+: cap: unknown field \(did you mean caps\?\); expected one of: name, description, mode/,
    );
  });

  it("an unknown cap", () => {
    const message = problemsOf(edit("  per_day: 1000", "  per_dya: 1000"));
    expect(message).toMatch(
      /bad\.yaml:\d+: caps\.per_dya: unknown field \(did you mean per_day\?\); expected one of: currency, per_call, per_session, per_day/,
    );
  });

  it("a rule of the wrong shape, with the full path", () => {
    const message = problemsOf(edit("in: [duplicate, requested_by_customer]", "in: duplicate"));
    expect(message).toContain(
      'tools.issue_refund.params.reason.in: expected an array, got "duplicate"',
    );
    expect(message).toMatch(/bad\.yaml:11: tools/); // the line of `in:`
  });

  it("an unknown field inside a rule", () => {
    expect(problemsOf(edit("        max: 1", "        maximum: 1"))).toContain(
      "tools.issue_refund.params.refund_fraction.maximum: unknown field; expected one of: in, equals, min, max",
    );
  });

  it("a tool this build does not have", () => {
    expect(problemsOf(edit("  get_balance:", "  refund_everything:"))).toMatch(
      /tools\.refund_everything: unknown tool; expected one of: issue_refund, cancel_subscription, lookup_charge/,
    );
  });

  it("a rule on a parameter the tool does not offer", () => {
    expect(problemsOf(edit("      reason:", "      currency:"))).toContain(
      'tools.issue_refund.params.currency: issue_refund has no rule parameter "currency"; expected one of: charge, payment_intent, amount, reason, refund_fraction',
    );
  });

  it("a session tool listed (they are always available)", () => {
    expect(problemsOf(edit("  get_balance:", "  end_session:"))).toContain(
      "tools.end_session: session tools are always available",
    );
  });

  it("a bad enum value", () => {
    expect(problemsOf(edit("mode: test", "mode: prod"))).toContain(
      'mode: expected "test" or "live", got "prod"',
    );
  });

  it("a customer scope that is neither `all` nor a mapping", () => {
    expect(
      problemsOf(edit("customers:\n  metadata:\n    tenant: acme", "customers: some")),
    ).toContain(
      'customers: expected "all" or a mapping with fields ids, metadata, email_domains, allow_no_customer, got "some"',
    );
  });

  it("an empty customer scope", () => {
    expect(
      problemsOf(edit("customers:\n  metadata:\n    tenant: acme", "customers: {}")),
    ).toContain("customers: expected at least one of ids, metadata, email_domains");
  });

  it("a bad customer id", () => {
    expect(
      problemsOf(edit("customers:\n  metadata:\n    tenant: acme", "customers:\n  ids: [acme]")),
    ).toContain('customers.ids[0]: expected a customer id (cus_…), got "acme"');
  });

  it("a missing required field", () => {
    expect(problemsOf(edit("name: support-refunds\n", ""))).toContain(
      "name: required field is missing (expected a string)",
    );
  });

  it("a negative cap and a bad duration", () => {
    const message = problemsOf(`${edit("  per_day: 1000", "  per_day: -5")}session_ttl: 8 hours\n`);
    expect(message).toContain("caps.per_day: expected number to be >=0, got -5");
    expect(message).toContain(
      'session_ttl: expected a duration such as 30m, 8h or 1d, got "8 hours"',
    );
  });

  it("min above max", () => {
    expect(problemsOf(edit("        max: 1", "        max: 0.2\n        min: 0.5"))).toContain(
      "tools.issue_refund.params.refund_fraction: min (0.5) must not exceed max (0.2)",
    );
  });

  it("a rate for the cap currency other than 1", () => {
    expect(problemsOf(edit("  eur: 1.1", "  eur: 1.1\n  usd: 2"))).toContain(
      "fx.usd: usd is the cap currency; its rate can only be 1",
    );
  });

  it("a tool entry that is not a mapping", () => {
    expect(problemsOf(edit("  get_balance:", "  get_balance: yes"))).toMatch(
      /tools\.get_balance: expected a mapping with fields params, calls_per_session, calls_per_hour, got "yes"/,
    );
  });

  it("broken YAML, with its line", () => {
    expect(problemsOf("name: x\nmode: [test\n")).toMatch(
      /policy policies\/bad\.yaml is not valid YAML:\n {2}policies\/bad\.yaml:\d+:/,
    );
  });

  it("a key given twice", () => {
    expect(problemsOf(`${BASE_POLICY}mode: live\n`)).toMatch(/not valid YAML[\s\S]*unique/i);
  });

  it("an empty file", () => {
    expect(problemsOf("")).toContain("(top level): expected a mapping");
  });
});

describe("parseDuration", () => {
  it("reads s, m, h, d", () => {
    expect(parseDuration("45s")).toBe(45_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("8h")).toBe(28_800_000);
    expect(parseDuration("1d")).toBe(86_400_000);
  });

  it("refuses anything else", () => {
    expect(() => parseDuration("1w")).toThrow(ConfigError);
    expect(() => parseDuration("h")).toThrow(/expected e.g. 30m, 8h or 1d/);
  });
});
