// How a PostgreSQL admission holds a cap across hosts: the per-agent advisory lock the
// store uses, against SERIALIZABLE transactions retried on a serialization failure, and
// against no lock at all (READ COMMITTED), to show what the lock is for.
//
//   npm run build && BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//     node bench/locking.bench.mjs
//
// BENCH_DATABASE_URL is a superuser URL: the benchmark creates a database of its own and
// drops it. Each admission is the store's own: the usage read and the counters of
// dist/src/store/postgres/usage.js, the same INSERT, one transaction; only the way it is
// made safe differs. No settlement and no Stripe: the admission alone.
import { performance } from "node:perf_hooks";
import pg from "pg";
import { countAdmitted, readUsage } from "../dist/src/store/postgres/usage.js";
import { freshDatabase, heading, row, scaled, stats, verdict } from "./lib.mjs";

const ADMIN_URL = process.env.BENCH_DATABASE_URL;
const RETRYABLE = new Set(["40001", "40P01"]);
const AMOUNT = 100;

const STRATEGIES = {
  "advisory lock (the store's)": {
    begin: "BEGIN",
    lock: (client, agent) => client.query("SELECT pg_advisory_xact_lock(1, hashtext($1))", [agent]),
  },
  "SERIALIZABLE, retried": { begin: "BEGIN ISOLATION LEVEL SERIALIZABLE", lock: async () => {} },
  "no lock (READ COMMITTED)": { begin: "BEGIN", lock: async () => {} },
};

/** One admission: read the usage, check the daily cap, insert and count. */
async function admit(pool, strategy, agent, session, cap, tally) {
  const client = await pool.connect();
  try {
    for (;;) {
      try {
        await client.query(strategy.begin);
        await strategy.lock(client, agent);
        const at = Date.now();
        const request = { session, agent, tool: "issue_refund", customer: "cus_bench", at };
        const usage = await readUsage(client, request);
        // (Plain pg gives BIGINT as text; the store's pool parses it.)
        if (Number(usage.daySpend) + AMOUNT > cap) {
          await client.query("COMMIT");
          tally.denied++;
          return;
        }
        await client.query(
          `INSERT INTO admissions (session, agent, tool, customer, amount, currency, amount_cap,
             reserved_amount_cap, cancellation, state, owner_pid, args, created_at)
           VALUES ($1, $2, 'issue_refund', 'cus_bench', $3, 'usd', $3, $3, false, 'reserved',
             $4, '{}', $5)`,
          [session, agent, AMOUNT, process.pid, at],
        );
        await countAdmitted(client, {
          session,
          agent,
          tool: "issue_refund",
          customer: "cus_bench",
          amount_cap: AMOUNT,
          cancellation: false,
          created_at: at,
        });
        await client.query("COMMIT");
        tally.admitted++;
        return;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        if (!RETRYABLE.has(err.code)) throw err;
        tally.retries++;
      }
    }
  } finally {
    client.release();
  }
}

/** `total` admissions over `agents` agents, `inFlight` at once. */
async function pass(url, strategy, { agents, inFlight, total, cap = Number.MAX_SAFE_INTEGER }) {
  const pool = new pg.Pool({ connectionString: url, max: inFlight });
  const tag = Math.random().toString(36).slice(2, 8);
  const tally = { admitted: 0, denied: 0, retries: 0 };
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      while (next < total) {
        const i = next++;
        const agent = `agent_${tag}_${(worker + i) % agents}`;
        const t = performance.now();
        await admit(pool, strategy, agent, `ses_${tag}_${worker}`, cap, tally);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  return { ...tally, rate: total / seconds, latency: stats(latencies) };
}

export async function run() {
  if (!ADMIN_URL) {
    console.log("  BENCH_DATABASE_URL is not set: nothing to measure (see the header).");
    return;
  }
  heading("PostgreSQL admission: advisory lock against SERIALIZABLE with retries");
  const database = await freshDatabase(ADMIN_URL);
  const results = {};
  try {
    const total = scaled(1_500, 200);
    const loads = [
      { name: "one agent, 1 in flight", agents: 1, inFlight: 1 },
      { name: "one agent, 8 in flight", agents: 1, inFlight: 8 },
      { name: "one agent, 32 in flight", agents: 1, inFlight: 32 },
      { name: "8 agents, 8 in flight", agents: 8, inFlight: 8 },
    ];
    for (const load of loads) {
      console.log(`\n  ${load.name}, ${total} admissions`);
      for (const [name, strategy] of Object.entries(STRATEGIES)) {
        const r = await pass(database.url, strategy, { ...load, total });
        results[`${load.name} / ${name}`] = r;
        console.log(
          `${row(`${name}: ${r.rate.toFixed(0)}/s`, r.latency, 40)}  retries ${r.retries}`,
        );
      }
    }

    // The cap itself: 32 at once against room for exactly 100 admissions.
    const capped = { agents: 1, inFlight: 32, total: 400, cap: 100 * AMOUNT };
    console.log("\n  one agent, 32 in flight, 400 attempts at a cap with room for 100");
    for (const [name, strategy] of Object.entries(STRATEGIES)) {
      const r = await pass(database.url, strategy, capped);
      results[`cap / ${name}`] = r;
      console.log(
        `  ${name.padEnd(30)} admitted ${r.admitted} (cap 100), denied ${r.denied}, retries ${r.retries}`,
      );
    }
  } finally {
    await database.drop();
  }
  const lock = results["one agent, 8 in flight / advisory lock (the store's)"];
  const serializable = results["one agent, 8 in flight / SERIALIZABLE, retried"];
  verdict(
    `contested (one agent, 8 in flight): advisory lock ${lock.rate.toFixed(0)}/s p99 ${lock.latency.p99.toFixed(1)} ms, SERIALIZABLE ${serializable.rate.toFixed(0)}/s p99 ${serializable.latency.p99.toFixed(1)} ms with ${serializable.retries} retries`,
    null,
  );
  verdict(
    `the cap holds with the advisory lock (${results["cap / advisory lock (the store's)"].admitted} of 100) and with SERIALIZABLE (${results["cap / SERIALIZABLE, retried"].admitted}); without either ${results["cap / no lock (READ COMMITTED)"].admitted} were admitted`,
    results["cap / advisory lock (the store's)"].admitted === 100 &&
      results["cap / SERIALIZABLE, retried"].admitted === 100,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
