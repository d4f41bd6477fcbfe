// `spendguard import-sqlite`: how long moving a large SQLite ledger into PostgreSQL takes.
// Builds a ledger through the store (half its audit rows settled refunds with their
// admissions and running totals, half reads), then imports it into a new database on the
// server BENCH_DATABASE_URL names, as the CLI does (the source's chain verified, the copy,
// the copy's chain verified before commit), and prints rows per second.
//
//   npm run build && BENCH_DATABASE_URL=postgres://… node bench/import.bench.mjs [auditRows]
//
// The URL's user must be allowed to CREATE DATABASE; the database made is dropped after.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { importSqliteLedger } from "../dist/src/store/import.js";
import { PgDatabase } from "../dist/src/store/postgres/database.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import { auditEntry } from "./lib.mjs";

const AUDIT_ROWS = Number(process.argv[2] ?? 100_000);
const SESSIONS = 100;
const SERVER_URL = process.env.BENCH_DATABASE_URL;
if (!SERVER_URL) {
  console.error(
    "set BENCH_DATABASE_URL=postgres://… (a server where this user may CREATE DATABASE)",
  );
  process.exit(2);
}

function entry(i, session, fields) {
  return auditEntry({
    at: new Date(Date.now() - (AUDIT_ROWS - i) * 10).toISOString(),
    session,
    agent: `agent-${i % 10}`,
    args: JSON.stringify({ amount: 100 + (i % 900), charge: `ch_bench_${i}`, reason: "duplicate" }),
    duration_ms: 1.25 + (i % 7) / 3,
    ...fields,
  });
}

async function buildLedger(home) {
  const store = openSqliteStore(home, { synchronous: "normal" });
  try {
    const sessions = Array.from(
      { length: SESSIONS },
      (_, s) => `ses_bench${String(s).padStart(6, "0")}`,
    );
    for (const [s, id] of sessions.entries()) {
      await store.createSession({
        id,
        agent: `agent-${s % 10}`,
        policy_name: "bench",
        policy_hash: "0".repeat(64),
        started_at: Date.now() - 3_600_000,
        expires_at: null,
        state: s % 10 === 0 ? "killed" : "active",
        state_changed_at: s % 10 === 0 ? Date.now() : null,
        killed_by: s % 10 === 0 ? "bench" : null,
        kill_reason: s % 10 === 0 ? "bench" : null,
      });
    }
    for (let i = 0; i < AUDIT_ROWS; i++) {
      const session = sessions[i % SESSIONS];
      const agent = `agent-${(i % SESSIONS) % 10}`;
      if (i % 2 === 1) {
        await store.appendAudit(entry(i, session, { agent, tool: "lookup_charge" }));
        continue;
      }
      const amount = 100 + (i % 900);
      const key = `sg_bench_${i}`;
      const admitted = await store.admit(
        {
          session,
          agent,
          tool: "issue_refund",
          customer: "cus_bench",
          call_key: key,
          idempotency_key: key,
          repeat_of: null,
          amount,
          currency: "usd",
          amount_cap: amount,
          revenue_at_risk_cap: null,
          cancellation: false,
          args: JSON.stringify({ amount, charge: `ch_bench_${i}` }),
          account: null,
          owner_pid: process.pid,
          owner_host: null,
          owner_instance: null,
          created_at: Date.now(),
        },
        () => ({ outcome: "allow" }),
      );
      if (!admitted.admitted) throw new Error("admission refused");
      await store.settle(
        admitted.admission.id,
        { amount, amount_cap: amount, stripe_request_id: `req_${i}`, result: "{}" },
        entry(i, session, {
          agent,
          amount,
          currency: "usd",
          amount_cap: amount,
          idempotency_key: key,
          stripe_request_id: `req_${i}`,
        }),
      );
    }
  } finally {
    await store.close();
  }
}

const home = mkdtempSync(join(tmpdir(), "spendguard-import-bench-"));
const name = `import_bench_${randomBytes(4).toString("hex")}`;
const admin = new PgDatabase(SERVER_URL);
try {
  let started = performance.now();
  await buildLedger(home);
  console.log(
    `ledger built: ${AUDIT_ROWS} audit rows, ${AUDIT_ROWS / 2} admissions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  started = performance.now();
  const result = await importSqliteLedger(home, url.toString());
  const seconds = (performance.now() - started) / 1000;
  const rows = Object.values(result.rows).reduce((sum, n) => sum + n, 0);
  console.log(`import-sqlite, ${AUDIT_ROWS} audit rows (${rows} rows in all tables)`);
  console.log(`  total            ${seconds.toFixed(2)} s`);
  console.log(`  audit rows/s     ${Math.round(result.rows.audit / seconds)}`);
  console.log(`  all rows/s       ${Math.round(rows / seconds)}`);
  console.log(`  head             ${result.head?.seq} ${result.head?.hash.slice(0, 12)}`);
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  await admin.close();
  rmSync(home, { recursive: true, force: true });
}
