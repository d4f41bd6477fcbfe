// Throughput: 50 concurrent Streamable HTTP sessions, each issuing refunds back to back
// against one `serve --http` process (durable audit, the store's default durability),
// with the sandbox in its own process. Afterwards the audit is read back: one row per
// call, the chain intact, one settled refund per refund that Stripe made.
//
// With BENCH_DATABASE_URL=postgres://… (a superuser URL: each pass creates and drops a
// database of its own), the same load runs on PostgreSQL: one server and one agent (as
// SQLite's pass), one server and 10 agents, two servers and 10 agents; server CPU per
// refund is compared with SQLite's.
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { verifyAudit } from "../dist/src/audit/chain.js";
import { openPostgresStore } from "../dist/src/store/postgres/store.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import {
  callTool,
  connectHttp,
  cpuMs,
  createAgentKey,
  freshDatabase,
  heading,
  loadAverage,
  ms,
  postgresCpuMs,
  postgresCpuSince,
  row,
  scaled,
  serverEnv,
  startHttpServer,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

/**
 * One pass. `base` is where the data directory goes: the default (BENCH_DIR or the OS temp
 * dir, a real disk) or /dev/shm, where fsync costs nothing — not a valid place for the
 * audit, but it shows what the rest of the stack can do. With `databaseUrl` the store is
 * that PostgreSQL database instead, shared by `servers` server processes (each with a home
 * of its own, as separate hosts would have); the sessions are spread over them.
 */
async function pass({
  sessions,
  perSession,
  warmup,
  base,
  label,
  databaseUrl,
  servers = 1,
  agents = 1,
}) {
  console.log(`\n  ${label}`);
  const sandbox = await startSandboxProcess({ charges: 500 });
  const homes = Array.from({ length: servers }, () => tempDir(base));
  const keys = [];
  for (let i = 0; i < agents; i++) {
    keys.push(await createAgentKey(homes[0], agents === 1 ? "bench" : `bench-${i}`, databaseUrl));
  }
  const running = await Promise.all(
    homes.map((home) =>
      startHttpServer({
        ...serverEnv(home, sandbox),
        ...(databaseUrl ? { SPENDGUARD_DATABASE_URL: databaseUrl } : {}),
      }),
    ),
  );
  const clients = await Promise.all(
    Array.from({ length: sessions }, (_, i) =>
      connectHttp(running[i % servers].url, keys[i % agents]),
    ),
  );
  console.log(
    `  ${sessions} sessions × ${perSession} refunds (after ${warmup} warm-up each), ${agents === 1 ? "one agent key" : `${agents} agents' keys`}, server pid ${running.map((s) => s.pid).join(" and ")}, sandbox pid ${sandbox.pid}`,
  );
  let n = 0;
  const codes = new Map();
  const latencies = [];
  let ok = 0;
  let calls = 0;
  const loop = async (client, count, record) => {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const outcome = await callTool(client, "issue_refund", sandbox.refundArgs(n++));
      if (!record) continue;
      latencies.push(performance.now() - started);
      calls++;
      if (outcome.ok) ok++;
      else codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);
    }
  };
  await Promise.all(clients.map(({ client }) => loop(client, warmup, false)));
  const load = loadAverage();
  const serverCpu = () => running.map((server) => cpuMs(server.pid));
  const cpuBefore = {
    servers: serverCpu(),
    sandbox: cpuMs(sandbox.pid),
    postgres: databaseUrl ? postgresCpuMs() : undefined,
    client: process.cpuUsage(),
  };
  const started = performance.now();
  await Promise.all(clients.map(({ client }) => loop(client, perSession, true)));
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(cpuBefore.client);
  const perServer = serverCpu().map((now, i) => (now - cpuBefore.servers[i]) / calls);
  const cpu = {
    server: perServer.reduce((sum, x) => sum + x, 0),
    perServer,
    sandbox: (cpuMs(sandbox.pid) - cpuBefore.sandbox) / calls,
    postgres: cpuBefore.postgres ? postgresCpuSince(cpuBefore.postgres) / calls : 0,
    client: (clientCpu.user + clientCpu.system) / 1000 / calls,
  };
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(running.map((server) => server.stop()));
  await sandbox.close();

  // The audit, read back after the servers stopped.
  const store = databaseUrl ? await openPostgresStore(databaseUrl) : openSqliteStore(homes[0]);
  const rows = { total: 0, refundsOk: 0, other: 0 };
  for await (const record of store.iterateAudit()) {
    rows.total++;
    if (record.tool === "issue_refund" && record.outcome === "ok" && record.stripe_request_id) {
      rows.refundsOk++;
    } else if (record.tool === "issue_refund") rows.other++;
  }
  const chain = await verifyAudit(store);
  await store.close();

  const rate = calls / seconds;
  const expectedRows = calls + sessions * warmup;
  console.log(
    `  ${calls} guarded refunds in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} calls/s; ${ok} refunded at Stripe, ${calls - ok} refused${codes.size > 0 ? ` (${[...codes].map(([c, k]) => `${c} ${k}`).join(", ")})` : ""}`,
  );
  console.log(row("per-call latency under this load", stats(latencies)));
  const each = servers > 1 ? ` (${perServer.map((x) => x.toFixed(2)).join(" + ")})` : "";
  console.log(
    `  CPU per call: server${servers > 1 ? "s" : ""} ${cpu.server.toFixed(2)} ms${each}, sandbox ${cpu.sandbox.toFixed(2)} ms${databaseUrl ? `, PostgreSQL ${cpu.postgres.toFixed(2)} ms` : ""}, benchmark clients ${cpu.client.toFixed(2)} ms → ${servers > 1 ? "each server process" : "the server alone"} could do ${(1000 / cpu.server).toFixed(0)} calls/s on one free core (Node runs it on one)`,
  );
  const busy = (cpu.server + cpu.sandbox + cpu.postgres + cpu.client) * rate;
  console.log(
    `  CPU busy during the pass: ${(busy / 10).toFixed(0)}% of one core, of ${cpus().length * 100}% on this machine (server${servers > 1 ? "s" : ""} ${((cpu.server * rate) / 10).toFixed(0)}%, sandbox ${((cpu.sandbox * rate) / 10).toFixed(0)}%${databaseUrl ? `, PostgreSQL ${((cpu.postgres * rate) / 10).toFixed(0)}%` : ""}, clients ${((cpu.client * rate) / 10).toFixed(0)}%)`,
  );
  console.log(
    `  audit: ${rows.total} rows (expected ${expectedRows}: one per call, warm-up included), ${rows.refundsOk} refunds ok with a Stripe request id, chain ${chain.ok ? "intact" : `BROKEN at ${chain.brokenAt}`}; load average at start ${load}`,
  );
  const audited =
    rows.total === expectedRows && rows.refundsOk === ok + sessions * warmup && chain.ok;
  return { rate, calls, ok, seconds, rows, audited, cpu, latency: ms(stats(latencies).p50) };
}

export async function run({ sessions = 50, perSession = scaled(40, 10), warmup = 4 } = {}) {
  heading(`Throughput: ${sessions} concurrent Streamable HTTP sessions issuing refunds`);
  const onDisk = await pass({
    sessions,
    perSession,
    warmup,
    base: undefined,
    label: "data directory on the disk (the real case: every refund's admission is fsynced)",
  });
  verdict(
    `throughput ${onDisk.rate.toFixed(0)} guarded refunds/s with durable audit over ${sessions} sessions (target ≥ 500/s)`,
    onDisk.rate >= 500,
  );
  verdict(
    `audit: one row per call (${onDisk.rows.total}), one settled refund per refund made, chain intact`,
    onDisk.audited,
  );
  const result = { onDisk };
  if (existsSync("/dev/shm") && process.env.BENCH_NO_TMPFS === undefined) {
    result.inMemory = await pass({
      sessions,
      perSession,
      warmup,
      base: "/dev/shm",
      label:
        "data directory on tmpfs (/dev/shm: fsync is free; shows the ceiling without the disk)",
    });
    verdict(
      `throughput without the disk's fsync ${result.inMemory.rate.toFixed(0)} refunds/s (reference, not a deployment)`,
      null,
    );
  }
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (adminUrl) Object.assign(result, await onPostgres({ sessions, perSession, warmup }, onDisk));
  return result;
}

/**
 * The same load on PostgreSQL (BENCH_DATABASE_URL: a superuser URL; each pass gets a new
 * database), with one server process and then two sharing it, beside SQLite's figures.
 */
async function onPostgres(load, sqlite) {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  const results = {};
  // One agent, as SQLite's pass: its admissions and settlements queue on the agent's lock.
  // Ten agents: the lock is no longer what they wait for.
  const passes = [
    { name: "one", servers: 1, agents: 1 },
    { name: "spread", servers: 1, agents: 10 },
    { name: "two", servers: 2, agents: 10 },
  ];
  for (const { name, servers, agents } of passes) {
    const database = await freshDatabase(adminUrl);
    try {
      results[name] = await pass({
        ...load,
        databaseUrl: database.url,
        servers,
        agents,
        label: `PostgreSQL (${new URL(adminUrl).host}), ${servers} server process${servers > 1 ? "es" : ""} on one database, ${agents === 1 ? "one agent" : `${agents} agents`}`,
      });
    } finally {
      await database.drop();
    }
  }
  const { one, spread, two } = results;
  const ratio = one.cpu.server / sqlite.cpu.server;
  verdict(
    `PostgreSQL: ${one.rate.toFixed(0)} guarded refunds/s with 1 server and one agent, ${spread.rate.toFixed(0)}/s with 10 agents, ${two.rate.toFixed(0)}/s with 2 servers and 10 agents (SQLite on disk, one agent: ${sqlite.rate.toFixed(0)}/s)`,
    null,
  );
  verdict(
    `PostgreSQL server CPU per refund ${one.cpu.server.toFixed(2)} ms against SQLite's ${sqlite.cpu.server.toFixed(2)} ms: ${ratio.toFixed(2)}× (target ≤ 1.3×)`,
    ratio <= 1.3,
  );
  verdict(
    `audit on PostgreSQL: one row per call, one settled refund per refund made, chain intact (every pass)`,
    one.audited && spread.audited && two.audited,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
