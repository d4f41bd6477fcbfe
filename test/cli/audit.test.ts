import { spawn } from "node:child_process";
import { cpSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { CLI, demoHome, runCli, tempDir } from "./helpers.js";

/** `spendguard audit` and `audit verify` on the data the demo leaves (14 rows). */

const COLUMNS = [
  "seq",
  "at",
  "session",
  "agent",
  "tool",
  "decision",
  "outcome",
  "code",
  "rule",
  "reason",
  "customer",
  "amount",
  "currency",
  "amount_cap",
  "cap_currency",
  "revenue_at_risk_cap",
  "stripe_request_id",
  "idempotency_key",
  "args",
  "duration_ms",
  "prev_hash",
  "hash",
];

/** A copy of the demo's data to tamper with, leaving the original intact. */
function copyHome(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}

/** Opens a copy for writing and lifts the append-only triggers, as an attacker would. */
function tamper(home: string, sql: string, ...params: unknown[]): void {
  const db = new Database(join(home, "spendguard.db"));
  try {
    db.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

describe("spendguard audit", () => {
  const { dir, cleanup } = tempDir();
  const home = join(dir, "home");
  const env = { SPENDGUARD_HOME: home };
  let session = "";

  beforeAll(async () => {
    const demo = await demoHome(home);
    session = /Its session: (ses_\w+)/.exec(demo.stdout)?.[1] ?? "";
  });
  afterAll(cleanup);

  it("prints a readable table, oldest first, from SPENDGUARD_HOME", async () => {
    const run = await runCli(["audit"], { env });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^SEQ +TIME \(UTC\) +SESSION +AGENT +TOOL +RESULT +AMOUNT +CUSTOMER +DETAIL$/,
    );
    expect(lines).toHaveLength(15);
    expect(lines[1]).toMatch(
      /^ +1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +ses_\w{8} +support-refunds +session_status +ok/,
    );
    expect(run.stdout).toMatch(/issue_refund +ok +\$25\.00 +cus_SgAcmeJaneDoe/);
    expect(run.stdout).toMatch(
      /issue_refund +denied customer_out_of_scope +cus_SgGlobexHank +issue_refund refused/,
    );
    expect(run.stdout).toMatch(
      /denied cap_session +\$25\.00 +cus_SgAcmeJaneDoe +issue_refund of \$25\.00 refused: only \$20\.00 left/,
    );
    expect(run.stdout).toMatch(/issue_refund +replayed +\$25\.00/);
    expect(run.stdout).toMatch(/denied session_killed .*stopped by the operator/);
  });

  it("filters by decision, tool, session (by prefix), agent and time, and limits to the latest rows", async () => {
    const [denied, tool, bySession, agent, future, past, limited] = await Promise.all([
      runCli(["audit", "--decision", "deny", "--json"], { env }),
      runCli(["audit", "--tool", "lookup_charge", "--json"], { env }),
      runCli(["audit", "--session", session.slice(0, 12), "--json"], { env }),
      runCli(["audit", "--agent", "someone-else", "--json"], { env }),
      runCli(["audit", "--since", "2999-01-01", "--json"], { env }),
      runCli(["audit", "--since", "1h", "--json"], { env }),
      runCli(["audit", "--limit", "2", "--home", home]),
    ]);
    const rows = (text: string) =>
      text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows(denied.stdout).map((r) => r.code)).toEqual([
      "customer_out_of_scope",
      "cap_session",
      "session_killed",
    ]);
    expect(rows(tool.stdout).map((r) => r.tool)).toEqual(["lookup_charge"]);
    expect(rows(bySession.stdout)).toHaveLength(14);
    expect(rows(bySession.stdout).every((r) => r.session === session)).toBe(true);
    expect(agent.stdout).toBe("");
    expect(future.stdout).toBe("");
    expect(rows(past.stdout)).toHaveLength(14);
    expect(limited.code).toBe(0);
    expect(
      limited.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((l) => l.trim().split(/ +/)[0]),
    ).toEqual(["13", "14"]);
  });

  it("exports JSON Lines with every column, in order", async () => {
    const run = await runCli(["audit", "--json"], { env });
    expect(run.code).toBe(0);
    const rows = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toHaveLength(14);
    for (const row of rows) expect(Object.keys(row)).toEqual(COLUMNS);
    expect(rows.map((r) => r.seq)).toEqual([...Array(14).keys()].map((i) => i + 1));
    const capped = rows.find((r) => r.code === "cap_session");
    expect(capped).toMatchObject({
      decision: "deny",
      outcome: "denied",
      rule: "caps.per_session",
      amount: 2500,
      currency: "usd",
      amount_cap: 2500,
      cap_currency: "usd",
      customer: "cus_SgAcmeJaneDoe",
    });
    expect(JSON.parse(String(capped?.args))).toEqual({
      amount: 2500,
      charge: "ch_SgAcmeSmall50UsdB",
      reason: "requested_by_customer",
    });
  });

  it("exports CSV with a header and quoted fields", async () => {
    const run = await runCli(["audit", "--csv", "--decision", "deny"], { env });
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(COLUMNS.join(","));
    expect(lines).toHaveLength(4);
    // Arguments are JSON: quoted, inner quotes doubled.
    expect(lines[2]).toContain('"{""amount"":2500,""charge"":""ch_SgAcmeSmall50UsdB""');
  });

  it("stops quietly when the reader closes the pipe early", async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
      (resolve) => {
        const child = spawn(process.execPath, [CLI, "audit", "--json", "--home", home], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        child.stdout.once("data", () => child.stdout.destroy());
        child.on("close", (code) => resolve({ code, stderr }));
      },
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("--follow prints the matching rows, then each new one as it is written, until Ctrl-C", async () => {
    const followed = copyHome(home, join(dir, "follow"));
    const child = spawn(
      process.execPath,
      [
        CLI,
        "audit",
        "--follow",
        "--json",
        "--decision",
        "deny",
        "--limit",
        "1",
        "--home",
        followed,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const lines = () => stdout.trimEnd().split("\n").filter(Boolean);
    const until = async (done: () => boolean) => {
      for (let waited = 0; !done(); waited += 50) {
        if (waited > 10_000) throw new Error(`waited in vain; stdout:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => stderr.includes("Following"));
    expect(lines().map((l) => (JSON.parse(l) as { code: string }).code)).toEqual([
      "session_killed",
    ]);

    // Another process appends: an allowed row (filtered out) and a denied one.
    const store = openSqliteStore(followed);
    const row = async (decision: "allow" | "deny") =>
      await store.appendAudit({
        at: new Date().toISOString(),
        session: "ses_followed",
        agent: "watched",
        tool: "issue_refund",
        args: "{}",
        decision,
        code: decision === "deny" ? "cap_day" : null,
        rule: decision === "deny" ? "caps.per_day" : null,
        reason: null,
        stripe_request_id: null,
        idempotency_key: null,
        amount: 1_000,
        currency: "usd",
        amount_cap: 1_000,
        cap_currency: "usd",
        revenue_at_risk_cap: null,
        customer: null,
        outcome: decision === "deny" ? "denied" : "ok",
        duration_ms: 1,
      });
    await row("allow");
    const denied = await row("deny");
    await store.close();
    await until(() => lines().length === 2);
    expect(JSON.parse(lines()[1] ?? "")).toMatchObject({ seq: denied.seq, code: "cap_day" });

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines()).toHaveLength(2);
  });

  it("fails with a clear message (exit 1) where there is no database", async () => {
    const run = await runCli(["audit", "--home", join(dir, "nowhere")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`no spendguard data in ${join(dir, "nowhere")}`);
    expect(run.stderr).toContain("SPENDGUARD_HOME");
  });

  it("an unknown session is a failure that says where to look (exit 1)", async () => {
    const run = await runCli(["audit", "--session", "ses_nope00000", "--home", home]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no session 'ses_nope00000'");
    expect(run.stderr).toContain("spendguard sessions");
  });
});

describe("spendguard audit verify", () => {
  const { dir, cleanup } = tempDir();
  const home = join(dir, "home");

  beforeAll(async () => {
    await demoHome(home);
  });
  afterAll(cleanup);

  it("passes on an intact chain (exit 0)", async () => {
    const [text, json] = await Promise.all([
      runCli(["audit", "verify", "--home", home]),
      runCli(["audit", "verify", "--json", "--home", home]),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("audit chain ok: 14 row(s) verified");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: true,
      rows: 14,
      database: join(home, "spendguard.db"),
    });
  });

  it("names the first edited row (exit 1)", async () => {
    const copy = copyHome(home, join(dir, "edited"));
    tamper(copy, "UPDATE audit SET amount_cap = 0, amount = 0 WHERE seq = 6");
    const [text, json] = await Promise.all([
      runCli(["audit", "verify", "--home", copy]),
      runCli(["audit", "verify", "--json", "--home", copy]),
    ]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      "audit chain BROKEN at row 6: row 6 was edited: its content does not match its hash.",
    );
    expect(text.stdout).toMatch(/row 6 as stored: .* issue_refund +ok +\$0\.00/);
    expect(text.stdout).toContain("Rows before 6 are intact.");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, broken_at: 6 });
  });

  it("names a deleted row (exit 1)", async () => {
    const copy = copyHome(home, join(dir, "deleted"));
    tamper(copy, "DELETE FROM audit WHERE seq = 12");
    const run = await runCli(["audit", "verify", "--home", copy]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("audit chain BROKEN at row 12: row 12 is missing");
  });

  it("notices a cut-off tail (exit 1)", async () => {
    const copy = copyHome(home, join(dir, "cut"));
    tamper(copy, "DELETE FROM audit WHERE seq >= 13");
    const run = await runCli(["audit", "verify", "--home", copy]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("audit chain BROKEN at row 13: rows 13 to 14 are missing");
  });
});
