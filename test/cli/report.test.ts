import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoHome, runCli, tempDir } from "./helpers.js";

/**
 * `spendguard report` on the demo's data: $230.00 moved (eight refunds less the replay),
 * 14 calls, three denials (out of scope, session cap, killed), nothing unconfirmed.
 */

interface Money {
  cap_currency: string | null;
  money_calls: number;
  moved: number;
  unconfirmed: number;
  revenue_at_risk: number;
}
interface Group {
  key: string | null;
  calls: number;
  ok: number;
  replayed: number;
  denied: number;
  errors: number;
  money: Money[];
  denials: { rule: string | null; code: string | null; count: number }[];
}
interface ReportJson {
  since: string;
  until: string | null;
  by: string;
  groups: Group[];
  totals: Omit<Group, "key">;
}

describe("spendguard report", () => {
  const { dir, cleanup } = tempDir();
  const home = join(dir, "home");
  const env = { SPENDGUARD_HOME: home };

  beforeAll(async () => {
    await demoHome(home);
  });
  afterAll(cleanup);

  it("prints money moved, calls and denials by rule, by agent over the last 24 h by default", async () => {
    const run = await runCli(["report"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Report since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(last 24h\), by agent$/m,
    );
    expect(run.stdout).toContain("Money in the cap currency: USD.");
    expect(run.stdout).toMatch(
      /AGENT +CALLS +OK +DENIED +ERRORS +MOVED +UNCONFIRMED +AT RISK\nsupport-refunds +14 +11 +3 +0 +\$230\.00 +\$0\.00 +\$0\.00/,
    );
    expect(run.stdout).toContain("Denials by rule");
    expect(run.stdout).toMatch(/support-refunds +caps\.per_session +cap_session +1/);
    expect(run.stdout).toMatch(/support-refunds +customers +customer_out_of_scope +1/);
    expect(run.stdout).toMatch(/support-refunds +session\.state +session_killed +1/);
  });

  it("--json carries the same figures in minor units", async () => {
    const run = await runCli(["report", "--json"], { env });
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ReportJson;
    expect(report.by).toBe("agent");
    expect(report.groups).toHaveLength(1);
    expect(report.groups[0]).toMatchObject({
      key: "support-refunds",
      calls: 14,
      ok: 11,
      replayed: 1,
      denied: 3,
      errors: 0,
      money: [
        { cap_currency: "usd", money_calls: 7, moved: 23000, unconfirmed: 0, revenue_at_risk: 0 },
      ],
    });
    expect(report.totals.denials).toHaveLength(3);
  });

  it("groups by customer, tool, day and session", async () => {
    const [customer, tool, day, session] = await Promise.all(
      ["customer", "tool", "day", "session"].map((by) =>
        runCli(["report", "--by", by, "--json"], { env }),
      ),
    );
    const parse = (text: string) => JSON.parse(text) as ReportJson;
    const moved = (g: Group | undefined) => g?.money[0]?.moved ?? 0;
    const byCustomer = parse(customer?.stdout ?? "");
    const jane = byCustomer.groups.find((g) => g.key === "cus_SgAcmeJaneDoe");
    const john = byCustomer.groups.find((g) => g.key === "cus_SgAcmeJohnRoe");
    expect(moved(jane)).toBe(15000);
    expect(moved(john)).toBe(8000);
    expect(byCustomer.groups.find((g) => g.key === "cus_SgGlobexHank")?.denied).toBe(1);
    expect(byCustomer.groups.at(-1)?.key).toBeNull(); // calls with no customer, listed last

    const byTool = parse(tool?.stdout ?? "");
    expect(byTool.groups.map((g) => g.key)).toEqual([
      "find_customer",
      "issue_refund",
      "lookup_charge",
      "session_status",
    ]);
    expect(byTool.groups[1]).toMatchObject({ calls: 11, denied: 3, replayed: 1 });

    const byDay = parse(day?.stdout ?? "");
    expect(byDay.groups).toHaveLength(1);
    expect(byDay.groups[0]?.key).toBe(new Date().toISOString().slice(0, 10));

    const bySession = parse(session?.stdout ?? "");
    expect(bySession.groups).toHaveLength(1);
    expect(bySession.groups[0]?.key).toMatch(/^ses_/);
  });

  it("a period with nothing in it says so; filters by agent and session", async () => {
    const [empty, agent, nobody] = await Promise.all([
      runCli(["report", "--since", "2999-01-01"], { env }),
      runCli(["report", "--agent", "support-refunds", "--by", "tool"], { env }),
      runCli(["report", "--agent", "nobody", "--json"], { env }),
    ]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain("No calls in this period.");
    expect(agent.stdout).toMatch(/issue_refund +11/);
    expect((JSON.parse(nobody.stdout) as ReportJson).groups).toEqual([]);
  });

  it("fails with a clear message where there is no database (exit 1)", async () => {
    const run = await runCli(["report", "--home", join(dir, "empty")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no spendguard data in");
  });
});
