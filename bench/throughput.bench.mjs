// Throughput: 50 concurrent Streamable HTTP sessions, each issuing refunds back to back
// against one `serve --http` process (durable audit, the store's default durability),
// with the sandbox in its own process. Afterwards the audit is read back: one row per
// call, the chain intact, one settled refund per refund that Stripe made.
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { verifyAudit } from "../dist/src/audit/chain.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import {
  callTool,
  connectHttp,
  cpuMs,
  createAgentKey,
  heading,
  loadAverage,
  ms,
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
 * audit, but it shows what the rest of the stack can do.
 */
async function pass({ sessions, perSession, warmup, base, label }) {
  console.log(`\n  ${label}`);
  const sandbox = await startSandboxProcess({ charges: 500 });
  const home = tempDir(base);
  const key = await createAgentKey(home);
  const server = await startHttpServer(serverEnv(home, sandbox));
  const clients = await Promise.all(
    Array.from({ length: sessions }, () => connectHttp(server.url, key)),
  );
  console.log(
    `  ${sessions} sessions × ${perSession} refunds (after ${warmup} warm-up each), one agent key, server pid ${server.pid}, sandbox pid ${sandbox.pid}`,
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
  const cpuBefore = {
    server: cpuMs(server.pid),
    sandbox: cpuMs(sandbox.pid),
    client: process.cpuUsage(),
  };
  const started = performance.now();
  await Promise.all(clients.map(({ client }) => loop(client, perSession, true)));
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(cpuBefore.client);
  const cpu = {
    server: (cpuMs(server.pid) - cpuBefore.server) / calls,
    sandbox: (cpuMs(sandbox.pid) - cpuBefore.sandbox) / calls,
    client: (clientCpu.user + clientCpu.system) / 1000 / calls,
  };
  await Promise.all(clients.map((c) => c.close()));
  await server.stop();
  await sandbox.close();

  // The audit, read back after the server stopped.
  const store = openSqliteStore(home);
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
  console.log(
    `  CPU per call: server ${cpu.server.toFixed(2)} ms, sandbox ${cpu.sandbox.toFixed(2)} ms, benchmark clients ${cpu.client.toFixed(2)} ms → the server alone could do ${(1000 / cpu.server).toFixed(0)} calls/s on one free core (Node runs it on one)`,
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
  if (existsSync("/dev/shm") && process.env.BENCH_NO_TMPFS === undefined) {
    const inMemory = await pass({
      sessions,
      perSession,
      warmup,
      base: "/dev/shm",
      label:
        "data directory on tmpfs (/dev/shm: fsync is free; shows the ceiling without the disk)",
    });
    verdict(
      `throughput without the disk's fsync ${inMemory.rate.toFixed(0)} refunds/s (reference, not a deployment)`,
      null,
    );
    return { onDisk, inMemory };
  }
  return { onDisk };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
