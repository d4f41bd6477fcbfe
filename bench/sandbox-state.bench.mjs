// What keeping the sandbox's state in a file costs a write: POST /v1/refunds over HTTP
// (the stripe SDK, keep-alive, its own idempotency key on each POST) against a sandbox in
// memory and one with a state file, which it rewrites whole (temp file, fsync, rename,
// fsync of the directory) after every write, before answering. At three sizes of state:
// the demo seed, and the seed plus 1,000 and 5,000 earlier refunds, each with its live
// idempotency key (what a day of heavy use leaves in the file).
//
//   npm run build && node bench/sandbox-state.bench.mjs [writes]   # BENCH_DIR=… for the disk
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Stripe from "stripe";
import { startSandbox } from "../dist/src/sandbox/index.js";
import { heading, loadAverage, row, scaled, stats, tempDir, verdict } from "./lib.mjs";

const CHARGE_AMOUNT = 99_999_999;

/** A state file of the demo seed plus `extra` refunds (and their keys) of one big charge. */
async function stateWith(extra) {
  const file = join(tempDir(), "sandbox.json");
  const box = await startSandbox({ port: 0, stateFile: file });
  const stripe = client(box);
  const charge = await stripe.charges.create({
    amount: CHARGE_AMOUNT,
    currency: "usd",
    customer: "cus_SgAcmeJaneDoe",
  });
  const sample = await stripe.refunds.create({ charge: charge.id, amount: 1 });
  await box.close();
  const state = JSON.parse(readFileSync(file, "utf8"));
  const [refund] = state.objects.refunds.filter((r) => r.id === sample.id);
  const key = state.idempotency.find((k) => k.endpoint === "POST /v1/refunds");
  for (let i = 0; i < extra; i++) {
    const id = `re_bench${String(i).padStart(16, "0")}`;
    state.seq += 1;
    state.objects.refunds.push({ ...refund, id, seq: state.seq });
    state.idempotency.push({ ...key, key: `bench-${i}`, response: { ...key.response } });
  }
  writeFileSync(file, JSON.stringify(state));
  return { file, charge: charge.id };
}

function client(box) {
  return new Stripe(box.keys.admin, {
    host: "127.0.0.1",
    port: box.port,
    protocol: "http",
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

async function refundLatencies(box, charge, writes) {
  const stripe = client(box);
  for (let i = 0; i < 20; i++) await stripe.refunds.create({ charge, amount: 1 });
  const samples = [];
  for (let i = 0; i < writes; i++) {
    const started = performance.now();
    await stripe.refunds.create({ charge, amount: 1 });
    samples.push(performance.now() - started);
  }
  return stats(samples);
}

/** The disk's floor for one durable write: 4 KiB written and fsync'd. */
function fsyncFloor(runs = 50) {
  const file = join(tempDir(), "probe");
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const fd = openSync(file, "w");
    writeFileSync(fd, "x".repeat(4096));
    fsyncSync(fd);
    closeSync(fd);
    samples.push(performance.now() - started);
  }
  return stats(samples);
}

/** The CPU part of a save: serialising the whole state. */
function serialise(file, runs = 20) {
  const state = JSON.parse(readFileSync(file, "utf8"));
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    JSON.stringify(state);
    samples.push(performance.now() - started);
  }
  return stats(samples);
}

/** An in-memory sandbox grown through the API to the same size: the fair baseline. */
async function memoryWith(extra) {
  const box = await startSandbox({ port: 0, seed: "demo" });
  const stripe = client(box);
  const big = () =>
    stripe.charges.create({
      amount: CHARGE_AMOUNT,
      currency: "usd",
      customer: "cus_SgAcmeJaneDoe",
    });
  const filler = (await big()).id;
  const charge = (await big()).id;
  for (let i = 0; i < extra; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, extra - i) }, () =>
        stripe.refunds.create({ charge: filler, amount: 1 }),
      ),
    );
  }
  return { box, charge };
}

export async function run({ writes = scaled(300, 50) } = {}) {
  heading("Sandbox state file: the cost of a write (bench/sandbox-state.bench.mjs)");
  console.log(`  load average before: ${loadAverage()}`);
  const results = [];
  for (const extra of [0, 1_000, 5_000]) {
    const { file, charge } = await stateWith(extra);
    const bytes = statSync(file).size;
    const persisted = await startSandbox({ port: 0, stateFile: file });
    // Fewer writes on a big state: each one rewrites all of it.
    const n = extra === 0 ? writes : Math.max(20, Math.round(writes / 4));
    const withFile = await refundLatencies(persisted, charge, n);
    await persisted.close();
    const memory = await memoryWith(extra);
    const inMemory = await refundLatencies(memory.box, memory.charge, n);
    await memory.box.close();
    const label = extra === 0 ? "demo seed" : `seed + ${extra.toLocaleString("en")} refunds`;
    console.log(`  ${label}: state file ${(bytes / 1024).toFixed(0)} KiB`);
    console.log(row("    in memory", inMemory, 40));
    console.log(row("    state file, saved after each write", withFile, 40));
    console.log(row("    of which: JSON.stringify of the state", serialise(file), 40));
    results.push({ label, bytes, inMemory, withFile });
  }
  console.log(row("  disk: write 4 KiB + fsync (the floor)", fsyncFloor(), 42));
  console.log(`  load average after: ${loadAverage()}`);
  const seed = results[0];
  verdict(
    `a write with the state file at the demo seed: p50 +${(seed.withFile.p50 - seed.inMemory.p50).toFixed(2)} ms over memory (${(seed.withFile.p50 / seed.inMemory.p50).toFixed(1)}×)`,
    null,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const writes = process.argv[2] ? Number(process.argv[2]) : undefined;
  await run(writes ? { writes } : {});
  const { cleanupAll } = await import("./lib.mjs");
  cleanupAll();
}
