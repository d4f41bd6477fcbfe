import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/chain.js";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openPostgresStore } from "../../src/store/postgres/store.js";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord, Store } from "../../src/store/store.js";
import { call, policyFile, tempHome } from "../e2e/harness.js";
import { connect, createKey, outcome, runCli, startHttpServer } from "../http/harness.js";
import { freshPostgres, POSTGRES_MISSING } from "./stores.js";

/**
 * `spendguard import-sqlite`: a ledger made by real traffic on one SQLite host is moved into
 * PostgreSQL, and a server on the database behaves as the old one would have: the same cap
 * left, the killed session killed, the keys working, the unknown write still counted.
 */

const CHARGE = DEMO.charges.acmeLarge;
const PER_DAY_CENTS = 30_000;
const refund = (amount: number) => ({ charge: CHARGE, amount, reason: "duplicate" });

let sandbox: Sandbox;
const homes: ReturnType<typeof tempHome>[] = [];
/** The SQLite home the traffic ran on, with its servers stopped. */
let source: string;
let policy: string;
let agentKey: string;
let killedSession: string;
let unknownAdmission: string;
let spentCents: number;

function home(): string {
  const made = tempHome();
  homes.push(made);
  return made.dir;
}

async function readAudit(store: Store): Promise<AuditRecord[]> {
  try {
    const rows: AuditRecord[] = [];
    for await (const row of store.iterateAudit()) rows.push(row);
    return rows;
  } finally {
    await store.close();
  }
}

/** `import-sqlite PATH --database URL`. */
const importInto = (path: string, url: string) =>
  runCli(["import-sqlite", path, "--database", url]);

/** A copy of the source's database file in a home of its own, to damage. */
function copyOfSource(): string {
  const dir = home();
  const db = new Database(join(source, DATABASE_FILE));
  try {
    db.exec(`VACUUM INTO '${join(dir, DATABASE_FILE)}'`);
  } finally {
    db.close();
  }
  return dir;
}

function execOn(dir: string, sql: string): void {
  const db = new Database(join(dir, DATABASE_FILE));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

async function auditRowsIn(url: string): Promise<number> {
  const store = await openPostgresStore(url);
  try {
    return (await store.queryAudit({})).length;
  } finally {
    await store.close();
  }
}

describe.skipIf(POSTGRES_MISSING)(
  `import-sqlite${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ""}`,
  () => {
    beforeAll(async () => {
      sandbox = await startSandbox({ port: 0, seed: "demo" });
      source = home();
      policy = policyFile(source, "support-refunds", {
        tools: {
          lookup_charge: null,
          lookup_refund: null,
          issue_refund: { calls_per_session: 1_000, calls_per_hour: 100_000 },
        },
        limits: { calls_per_session: 10_000, calls_per_hour: 100_000 },
        caps: { currency: "usd", per_call: 100, per_day: PER_DAY_CENTS / 100 },
        require_approval_over: 90,
      });
      const server = await startHttpServer({
        home: source,
        env: {
          STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
          SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
        },
        args: ["--rate-limit", "1000"],
      });
      try {
        agentKey = (await createKey(source, ["--agent", "refund-bot", "--policy", policy])).key;
        const flakyKey = (await createKey(source, ["--agent", "flaky-bot", "--policy", policy]))
          .key;
        await createKey(source, ["--operator", "--name", "olivia"]);

        const agent = await connect(server.url, agentKey);
        const refunds = [5_000, 4_000];
        for (const amount of refunds) {
          expect(outcome(await call(agent.client, "issue_refund", refund(amount))).ok).toBe(true);
        }
        // Over the per-call cap: denied.
        expect(outcome(await call(agent.client, "issue_refund", refund(12_000)))).toMatchObject({
          ok: false,
          code: "cap_per_call",
        });
        // Over the approval threshold: asked, approved by the operator, then let through.
        const asked = outcome(await call(agent.client, "issue_refund", refund(9_500)));
        if (asked.ok) throw new Error("expected approval_required");
        expect(asked.code).toBe("approval_required");
        const approvalId = /apr_[0-9a-f]{24}/.exec(asked.message)?.[0] ?? "";
        const approved = await runCli(["approve", approvalId, "--home", source]);
        expect(approved.code, approved.stderr).toBe(0);
        expect(outcome(await call(agent.client, "issue_refund", refund(9_500))).ok).toBe(true);
        expect(outcome(await call(agent.client, "issue_refund", refund(6_000))).ok).toBe(true);
        killedSession = agent.sessionId() ?? "";
        const killed = await runCli(["kill", killedSession, "--home", source]);
        expect(killed.code, killed.stderr).toBe(0);
        await agent.close();

        // Another agent's write whose answer is lost: unknown, and it keeps counting.
        const flaky = await connect(server.url, flakyKey);
        sandbox.faults.add({ method: "POST", path: "/v1/refunds", kind: "reset", times: 3 });
        expect(outcome(await call(flaky.client, "issue_refund", refund(2_222)))).toMatchObject({
          ok: false,
          code: "outcome_unknown",
        });
        await flaky.close();
        spentCents = 5_000 + 4_000 + 9_500 + 6_000;
      } finally {
        await server.stop();
      }
      const store = openSqliteStore(source);
      try {
        const unknown = await store.listAdmissions({ states: ["unknown"] });
        expect(unknown.map((a) => [a.agent, a.amount_cap])).toEqual([["flaky-bot", 2_222]]);
        unknownAdmission = unknown[0]?.id ?? "";
      } finally {
        await store.close();
      }
      // About 10 s alone; a loaded machine (other suites spawning servers) can triple it.
    }, 120_000);

    afterAll(async () => {
      await sandbox?.close();
      for (const made of homes) made.cleanup();
    });

    it("copies the ledger row for row; a server on the database enforces what the old one would have", async () => {
      const url = await freshPostgres();
      const run = await importInto(source, url);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const sourceAudit = await readAudit(openSqliteStore(source));
      expect(run.stdout).toMatch(new RegExp(`audit rows +${sourceAudit.length} +chain verified`));
      expect(run.stdout).toMatch(/admissions\s+\d+\s+1 unknown/);
      expect(run.stdout).not.toContain("sg_agent_");

      const verify = await runCli(["audit", "verify", "--database", url]);
      expect(verify.code, verify.stdout).toBe(0);
      expect(verify.stdout).toContain(`${sourceAudit.length} row(s) verified`);
      expect(await readAudit(await openPostgresStore(url))).toEqual(sourceAudit);

      const listed = await runCli(["admissions", "--json", "--database", url]);
      expect(listed.code, listed.stderr).toBe(0);
      const unresolved = JSON.parse(listed.stdout) as { id: string; agent: string }[];
      expect(unresolved.map((a) => [a.id, a.agent])).toEqual([[unknownAdmission, "flaky-bot"]]);

      const store = await openPostgresStore(url);
      try {
        expect((await store.getSession(killedSession))?.state).toBe("killed");
      } finally {
        await store.close();
      }

      // A new host on the database: no SQLite, no kill flags, the same ledger.
      const server = await startHttpServer({
        home: home(),
        env: {
          STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
          SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
          SPENDGUARD_DATABASE_URL: url,
        },
      });
      try {
        const agent = await connect(server.url, agentKey);
        const left = PER_DAY_CENTS - spentCents;
        expect(outcome(await call(agent.client, "issue_refund", refund(left + 1)))).toMatchObject({
          ok: false,
          code: "cap_day",
        });
        expect(outcome(await call(agent.client, "issue_refund", refund(left))).ok).toBe(true);
        expect(outcome(await call(agent.client, "issue_refund", refund(1)))).toMatchObject({
          ok: false,
          code: "cap_day",
        });
        await agent.close();
      } finally {
        await server.stop();
      }
      // New rows continue the imported chain (and a new admission got a fresh id: the
      // identities continue after the imported ones, or its insert would have failed).
      const moved = await openPostgresStore(url);
      try {
        expect(await verifyAudit(moved)).toEqual({ ok: true, rows: sourceAudit.length + 3 });
      } finally {
        await moved.close();
      }
    }, 60_000);

    it("never merges: a second import into the same database refuses and writes nothing", async () => {
      const url = await freshPostgres();
      expect((await importInto(source, url)).code).toBe(0);
      const rows = await auditRowsIn(url);
      const again = await importInto(source, url);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe("");
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(again.stderr).toMatch(/already holds a ledger \(rows in .*audit.*\).*never merges/);
      expect(await auditRowsIn(url)).toBe(rows);
    });

    it("refuses a source whose chain does not verify, naming the row, before touching the database", async () => {
      const tampered = copyOfSource();
      execOn(
        tampered,
        "DROP TRIGGER audit_no_update; UPDATE audit SET amount = amount + 1 WHERE seq = 3",
      );
      const url = await freshPostgres();
      const run = await importInto(tampered, url);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /audit chain in .*spendguard\.db is broken at row 3 \(row 3 was edited.*\); nothing was imported/,
      );
      expect(await auditRowsIn(url)).toBe(0);
    });

    it("refuses a column only one side has, naming it", async () => {
      const extended = copyOfSource();
      execOn(extended, "ALTER TABLE sessions ADD COLUMN colour TEXT");
      const url = await freshPostgres();
      const run = await importInto(join(extended, DATABASE_FILE), url);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("column sessions.colour is in SQLite only");
      expect(await auditRowsIn(url)).toBe(0);
    });

    it("bad input: one line with the cause and exit 1; no database URL is a usage error", async () => {
      const url = await freshPostgres();
      const empty = home();
      const damaged = home();
      writeFileSync(join(damaged, DATABASE_FILE), "not a database, just text ".repeat(100));
      const foreign = home();
      new Database(join(foreign, DATABASE_FILE)).exec("CREATE TABLE t (x)");
      const cases: [string, string, RegExp][] = [
        [join(empty, "nowhere"), url, /nowhere does not exist/],
        [empty, url, /is not a spendguard data directory \(no spendguard\.db in it\)/],
        [damaged, url, /is damaged or not an SQLite database \(file is not a database\)/],
        [foreign, url, /is an SQLite database, but not a spendguard ledger/],
        [
          source,
          "postgres://spendguard:hunter2@127.0.0.1:1/ledger",
          /cannot reach postgres:\/\/spendguard:\*\*\*@127\.0\.0\.1:1\/ledger: .*ECONNREFUSED/,
        ],
      ];
      const runs = await Promise.all(cases.map(([path, target]) => importInto(path, target)));
      for (const [i, [, , message]] of cases.entries()) {
        const run = runs[i] ?? { code: null, stdout: "", stderr: "" };
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toMatch(message);
        expect(run.stderr.trim().split("\n")).toHaveLength(1);
        expect(run.stderr).not.toContain("hunter2");
      }
      const usage = await runCli(["import-sqlite", source], { SPENDGUARD_DATABASE_URL: "" });
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain("--database URL or SPENDGUARD_DATABASE_URL");
    });
  },
);
