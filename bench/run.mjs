// The benchmarks of issue #7, in one command:
//
//   npm run bench                        # all of them (a few minutes)
//   npm run bench -- overhead kill       # some: guard overhead latency throughput kill startup sandbox-state console alerts locking
//   BENCH_SCALE=0.2 npm run bench        # every one with a fifth of its calls
//
// BENCH_DIR chooses the directory for data directories (default: the OS temp dir; it must
// be on a real disk for the durability costs to mean anything). Each benchmark prints its
// figures and a verdict per target; the summary repeats the verdicts.
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { cleanupAll, loadAverage, ROOT, SCALE, scaled, verdicts } from "./lib.mjs";

const BENCHES = {
  /** The guard alone with fake tools (the first pass, kept as it was). */
  guard: async () => {
    console.log("\n## Guard alone, fake tools (bench/guard.bench.mjs)\n");
    const run = spawnSync(
      process.execPath,
      [join(ROOT, "bench/guard.bench.mjs"), String(scaled(3_000, 300))],
      { stdio: "inherit" },
    );
    if (run.status !== 0) throw new Error(`guard.bench.mjs exited with ${run.status}`);
  },
  overhead: async () => (await import("./overhead.bench.mjs")).run(),
  latency: async () => (await import("./latency.bench.mjs")).run(),
  throughput: async () => (await import("./throughput.bench.mjs")).run(),
  kill: async () => (await import("./kill.bench.mjs")).run(),
  startup: async () => (await import("./startup.bench.mjs")).run(),
  "sandbox-state": async () => (await import("./sandbox-state.bench.mjs")).run(),
  console: async () => (await import("./console.bench.mjs")).run(),
  alerts: async () => (await import("./alerts.bench.mjs")).run(),
  locking: async () => (await import("./locking.bench.mjs")).run(),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(", ")}; choose from: ${Object.keys(BENCHES).join(" ")}`,
  );
  process.exit(2);
}
const chosen = asked.length > 0 ? asked : Object.keys(BENCHES);

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log("# spendguard benchmarks");
console.log(
  `command: npm run bench${asked.length > 0 ? ` -- ${asked.join(" ")}` : ""}${SCALE !== 1 ? ` (BENCH_SCALE=${SCALE})` : ""}`,
);
console.log(
  `machine: ${cpus().length} vCPU, ${cpu}, node ${process.version}, ${process.platform} ${process.arch}`,
);
console.log(`date: ${new Date().toISOString()}; load average at start: ${loadAverage()}`);

const started = Date.now();
let failed = false;
for (const name of chosen) {
  const before = loadAverage();
  try {
    await BENCHES[name]();
  } catch (err) {
    failed = true;
    console.error(`\n${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  }
  console.log(`  (load average before: ${before}; after: ${loadAverage()})`);
  cleanupAll();
}

console.log(`\n## Summary (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
for (const line of verdicts) console.log(`  ${line}`);
process.exit(failed ? 1 : 0);
