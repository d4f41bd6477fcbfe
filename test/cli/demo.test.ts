import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { type CliRun, runCli, tempDir } from "./helpers.js";

/**
 * `spendguard demo` is the README's first command: the built CLI plays the whole story
 * against the sandbox with the real server over stdio, and its output shows it happened.
 */
describe("spendguard demo", () => {
  const { dir, cleanup } = tempDir("spendguard-demo-test-");
  const home = join(dir, "home");
  let run: CliRun;
  let seconds: number;

  afterAll(cleanup);

  it("tells the whole story and exits 0, well under 15 s", async () => {
    const started = Date.now();
    run = await runCli(["demo", "--home", home], { timeoutMs: 30_000 });
    seconds = (Date.now() - started) / 1000;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(seconds).toBeLessThan(15);
    expect(run.stdout).toContain("The story happened as scripted");
  });

  it("shows the customer found with a masked email, the charge and the first refund", () => {
    expect(run.stdout).toContain('agent → find_customer {"email":"jane.doe@acme.example"}');
    expect(run.stdout).toContain("her email comes back masked: j***@acme.example");
    expect(run.stdout).toContain("$500.00, succeeded, $500.00 still refundable");
    expect(run.stdout).toMatch(/✓ refunded \$25\.00 \(re_\w+\); \$225\.00 left of the session cap/);
  });

  it("shows the other tenant's customer refused as out of scope", () => {
    expect(run.stdout).toMatch(/ch_SgGlobexEur75.*\n\s+✗ refused: customer_out_of_scope/);
  });

  it("shows the refund backlog stopped by the session cap, with what was left at each step", () => {
    const lefts = [...run.stdout.matchAll(/✓ +\$\d+\.\d\d .* (\$\d+\.\d\d) left/g)].map(
      (m) => m[1],
    );
    expect(lefts).toEqual(["$175.00", "$145.00", "$95.00", "$70.00", "$50.00", "$20.00"]);
    expect(run.stdout).toMatch(/✗ +\$25\.00 +Jane .*refused: cap_session/);
    expect(run.stdout).toContain("only $20.00 left of the $250.00 session cap");
  });

  it("shows the repeated refund replayed, with one refund at Stripe", () => {
    const [first] = /✓ refunded \$25\.00 \((re_\w+)\)/.exec(run.stdout)?.slice(1) ?? [];
    expect(first).toBeDefined();
    expect(run.stdout).toContain(`replayed: the same refund ${first} came back`);
    expect(run.stdout).toContain("Stripe holds exactly one $25.00 refund");
  });

  it("shows the operator kill and the next call refused with nothing reaching Stripe", () => {
    const session = /Its session: (ses_\w+)/.exec(run.stdout)?.[1];
    expect(session).toBeDefined();
    expect(run.stdout).toContain(`$ spendguard kill ${session} --reason`);
    expect(run.stdout).toMatch(/The agent's next call\n.*\n\s+✗ refused: session_killed/);
    expect(run.stdout).toContain("Requests that reached Stripe after the kill: 0.");
    // The kill went through the CLI's own path: database and flag file.
    const flag = join(home, "kill", session ?? "");
    expect(readFileSync(flag, "utf8")).toContain("demo: refund backlog under review");
    const db = new Database(join(home, "spendguard.db"), { readonly: true });
    try {
      const row = db.prepare("SELECT state, killed_by FROM sessions WHERE id = ?").get(session);
      expect(row).toEqual({ state: "killed", killed_by: "cli" });
    } finally {
      db.close();
    }
  });

  it("ends with the report and a verified audit, and says where the data is", () => {
    expect(run.stdout).toContain("$ spendguard report --by tool");
    expect(run.stdout).toMatch(/issue_refund +11 +8 +3 +0 +\$230\.00/);
    expect(run.stdout).toMatch(/caps\.per_session +cap_session +1/);
    expect(run.stdout).toMatch(/audit chain ok: 14 row\(s\) verified/);
    expect(run.stdout).toContain(`SPENDGUARD_HOME=${home} spendguard audit`);
    expect(run.stdout).toContain(`SPENDGUARD_HOME=${home} spendguard console`);
    expect(run.stdout).toContain("http://127.0.0.1:3100/console");
  });

  it("writes no colour escapes when stdout is not a terminal", () => {
    expect(run.stdout).not.toContain("\u001b[");
  });

  it("refuses a data directory that already holds a database (exit 2)", async () => {
    expect(existsSync(join(home, "spendguard.db"))).toBe(true);
    const again = await runCli(["demo", "--home", home]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already holds a spendguard database");
  });
});
