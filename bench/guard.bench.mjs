// The cost of one full guard pass — decide + admit (reserve) + settle + audit — for a
// money-moving call, with the database on disk, as p50/p99. Runs the compiled code:
//
//   npm run build && node bench/guard.bench.mjs [calls]
//
// With BENCH_DATABASE_URL=postgres://… (a migrated database: spendguard migrate), the
// admission alone (1 and 8 in flight) and the guard passes run on PostgreSQL too.
//
// BENCH_DIR picks the directory for the database (default: the OS temp dir, which must
// be on a real disk for the figures to mean anything). Tools are fakes that answer at
// once, so what is measured is the guard alone, not Stripe.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Stripe from "stripe";
import { z } from "zod";
import { decide } from "../dist/src/guard/decide.js";
import { Guard } from "../dist/src/guard/guard.js";
import { startSession } from "../dist/src/guard/sessions.js";
import { parsePolicy } from "../dist/src/policy/load.js";
import { openPostgresStore } from "../dist/src/store/postgres/store.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import { defineTool } from "../dist/tools/tool.js";

const CALLS = Number(process.argv[2] ?? 3_000);
const WARMUP = 300;
const BASE = process.env.BENCH_DIR ?? tmpdir();
const DATABASE_URL = process.env.BENCH_DATABASE_URL;

const customer = { id: "cus_bench", email: "ann@acme.test", metadata: { tenant: "acme" } };

const refund = defineTool({
  name: "issue_refund",
  title: "Refund",
  description: "Benchmark refund.",
  input: z.object({ charge: z.string(), amount: z.number().int().positive() }).strict(),
  output: z.object({ refunded: z.number().int() }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  permissions: { refunds: "write" },
  kind: "write",
  scope: "customer",
  ruleParams: ["charge", "amount", "refund_fraction"],
  async resolve(_ctx, args) {
    return {
      customer,
      moves: { amount: args.amount, currency: "eur" },
      attributes: { refund_fraction: 0.1 },
      data: undefined,
    };
  },
  async handle(_ctx, args) {
    return {
      output: { refunded: args.amount },
      text: "ok",
      moved: { amount: args.amount, currency: "eur" },
    };
  },
});

const lookup = defineTool({
  name: "lookup_charge",
  title: "Lookup",
  description: "Benchmark read.",
  input: z.object({ charge: z.string() }).strict(),
  output: z.object({ id: z.string() }),
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: true,
  },
  permissions: { charges: "read" },
  kind: "read",
  scope: "customer",
  ruleParams: ["charge"],
  async resolve() {
    return { customer, data: undefined };
  },
  async handle(_ctx, args) {
    return { output: { id: args.charge }, text: "ok" };
  },
});

const tools = [refund, lookup];
const policy = parsePolicy(
  `name: bench
mode: test
tools:
  issue_refund:
    params:
      refund_fraction: { max: 0.5 }
  lookup_charge:
caps:
  per_call: 1000
  per_session: 100000000
  per_day: 100000000
  per_customer_per_day: 100000000
customers:
  metadata: { tenant: acme }
fx:
  eur: 1.08
`,
  "bench.yaml",
  tools,
);
const stripe = new Stripe("sk_test_x", { host: "127.0.0.1", port: 9, protocol: "http" });

function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1], mean };
}

async function guardPasses(synchronous, tool, databaseUrl) {
  const home = mkdtempSync(join(BASE, "spendguard-bench-"));
  try {
    const store = databaseUrl
      ? await openPostgresStore(databaseUrl)
      : openSqliteStore(home, { synchronous });
    const session = await startSession(store, { policy });
    const guard = await Guard.open({
      policy,
      store,
      sessionId: session.id,
      stripe,
      home,
      tools,
      transport: "stdio",
    });
    const samples = [];
    for (let i = 0; i < WARMUP + CALLS; i++) {
      // Distinct arguments: a repeat would be an idempotent replay, which reserves nothing.
      const args =
        tool === "issue_refund"
          ? { charge: `ch_${i}`, amount: 100 + (i % 5_000) }
          : { charge: `ch_${i}` };
      const started = performance.now();
      const outcome = await guard.call(tool, args);
      const elapsed = performance.now() - started;
      if (!outcome.ok) throw new Error(`bench call refused: ${outcome.code} ${outcome.message}`);
      if (i >= WARMUP) samples.push(elapsed);
    }
    await store.close();
    return percentiles(samples);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * `store.admit` alone (the cap check's transaction, under the per-agent lock), each
 * followed by an untimed settle; `parallel` admissions of one agent in flight at once.
 */
async function admissions(openStore, parallel = 1) {
  const store = await openStore();
  const agent = `bench-${process.pid}-${Date.now()}-${parallel}`;
  const allow = () => ({ outcome: "allow", rule: "bench", reason: "bench" });
  const samples = [];
  let next = 0;
  const one = async () => {
    const i = next++;
    const request = {
      session: `ses_${agent}`,
      agent,
      tool: "issue_refund",
      customer: "cus_bench",
      call_key: `c_${agent}_${i}`,
      idempotency_key: `k_${agent}_${i}`,
      repeat_of: null,
      amount: 100,
      currency: "usd",
      amount_cap: 100,
      revenue_at_risk_cap: null,
      cancellation: false,
      args: "{}",
      account: null,
      owner_pid: process.pid,
      owner_host: null,
      owner_instance: null,
      created_at: Date.now(),
    };
    const started = performance.now();
    const result = await store.admit(request, allow);
    if (i >= WARMUP) samples.push(performance.now() - started);
    await store.settle(
      result.admission.id,
      { amount: 100, amount_cap: 100, stripe_request_id: null, result: null },
      benchEntry(agent),
    );
  };
  const worker = async () => {
    while (next < WARMUP + CALLS) await one();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  const perSecond = ((WARMUP + CALLS) / (performance.now() - started)) * 1000;
  await store.close();
  return { ...percentiles(samples), perSecond };
}

function benchEntry(agent) {
  return {
    at: new Date().toISOString(),
    session: `ses_${agent}`,
    agent,
    tool: "issue_refund",
    args: "{}",
    decision: "allow",
    code: null,
    rule: "policy",
    reason: "allowed",
    stripe_request_id: null,
    idempotency_key: null,
    amount: 100,
    currency: "usd",
    amount_cap: 100,
    cap_currency: "usd",
    revenue_at_risk_cap: null,
    customer: "cus_bench",
    outcome: "ok",
    duration_ms: 0,
  };
}

/** The pure decision alone, for scale. */
function decisions() {
  const facts = {
    policy,
    tool: refund,
    args: { charge: "ch_1", amount: 500 },
    account: null,
    session: { state: "active", expiresAt: null, killedBy: null, killReason: null },
    killFlag: null,
    now: Date.now(),
    readOnly: false,
  };
  const resolved = {
    customer,
    moves: { amount: 500, currency: "eur" },
    attributes: { refund_fraction: 0.1 },
  };
  const usage = {
    sessionSpend: 0,
    daySpend: 0,
    customerDaySpend: 0,
    toolCallsSession: 0,
    toolCallsHour: 0,
    cancellationsSession: 0,
    cancellationsDay: 0,
  };
  const samples = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const started = performance.now();
    decide(facts, resolved, usage);
    if (i >= WARMUP) samples.push(performance.now() - started);
  }
  return percentiles(samples);
}

/** What the disk itself costs: one small append made durable (SQLite's commit in FULL). */
function fsyncs() {
  const dir = mkdtempSync(join(BASE, "spendguard-bench-"));
  const fd = openSync(join(dir, "probe"), "w");
  const samples = [];
  try {
    for (let i = 0; i < 500; i++) {
      writeSync(fd, "x".repeat(4_096));
      const started = performance.now();
      fsyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return percentiles(samples);
}

const ms = (x) => `${x.toFixed(3)} ms`.padStart(10);
const line = (label, r) =>
  `${label.padEnd(52)} p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  p99.9 ${ms(r.p999)}  max ${ms(r.max)}`;

console.log(
  `spendguard guard benchmark — ${CALLS} calls after ${WARMUP} warm-up, database under ${BASE}`,
);
console.log(`node ${process.version}, ${process.platform} ${process.arch}`);
console.log(line("decide() alone (pure)", decisions()));
console.log(
  line(
    "full pass, money-moving write, tiered (default)",
    await guardPasses("tiered", "issue_refund"),
  ),
);
console.log(
  line("full pass, read, tiered (default)", await guardPasses("tiered", "lookup_charge")),
);
console.log(
  line(
    "full pass, money-moving write, synchronous=FULL",
    await guardPasses("full", "issue_refund"),
  ),
);
console.log(
  line(
    "full pass, money-moving write, synchronous=NORMAL",
    await guardPasses("normal", "issue_refund"),
  ),
);
console.log(line("full pass, read, synchronous=FULL", await guardPasses("full", "lookup_charge")));
console.log(
  line("full pass, read, synchronous=NORMAL", await guardPasses("normal", "lookup_charge")),
);
console.log(line("disk: write 4 KiB + fsync (the floor of one durable commit)", fsyncs()));
if (DATABASE_URL) {
  const rate = (r) => `${r.perSecond.toFixed(0)}/s`.padStart(8);
  for (const parallel of [1, 8]) {
    const home = mkdtempSync(join(BASE, "spendguard-bench-"));
    const sqlite = await admissions(async () => openSqliteStore(home), parallel);
    rmSync(home, { recursive: true, force: true });
    console.log(
      `${line(`admission alone, SQLite tiered, ${parallel} in flight`, sqlite)} ${rate(sqlite)}`,
    );
    const pg = await admissions(() => openPostgresStore(DATABASE_URL), parallel);
    console.log(`${line(`admission alone, PostgreSQL, ${parallel} in flight`, pg)} ${rate(pg)}`);
  }
  console.log(
    line(
      "full pass, money-moving write, PostgreSQL",
      await guardPasses("tiered", "issue_refund", DATABASE_URL),
    ),
  );
  console.log(
    line("full pass, read, PostgreSQL", await guardPasses("tiered", "lookup_charge", DATABASE_URL)),
  );
}
