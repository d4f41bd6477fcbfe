// Cold start and memory.
// - Cold start: spawning `spendguard serve --sandbox --policy policies/support-refunds.yaml`
//   (stdio, its own in-process sandbox, as the README's first run does) to the first
//   `tools/list` answer; and the same against an external Stripe (the sandbox process).
// - Memory: the resident set of one `serve --http` process over 10,000 calls (reads and
//   refunds, 10 sessions at a time, each block of 1,000 calls in fresh sessions that are
//   closed after it), sampled every 1,000 calls, with the trend over the samples.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  callTool,
  connectHttp,
  connectStdio,
  createAgentKey,
  heading,
  ms,
  POLICY,
  ROOT,
  row,
  rssMb,
  scaled,
  serverEnv,
  startHttpServer,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

async function coldStarts(runs, env, args) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const server = await connectStdio(env(), args);
    const { tools } = await server.client.listTools();
    samples.push(performance.now() - started);
    if (tools.length === 0) throw new Error("tools/list answered with no tool");
    await server.close();
  }
  return stats(samples);
}

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function run({
  runs = scaled(10, 3),
  calls = scaled(10_000, 2_000),
  every = scaled(1_000, 200),
} = {}) {
  heading("Cold start to the first tools/list answer (stdio, spawn included)");
  const supportPolicy = join(ROOT, "policies/support-refunds.yaml");
  const sandboxed = await coldStarts(
    runs,
    () => ({
      PATH: process.env.PATH ?? "",
      SPENDGUARD_HOME: tempDir(),
      SPENDGUARD_LOG_LEVEL: "warn",
    }),
    ["serve", "--sandbox", "--policy", supportPolicy],
  );
  const sandbox = await startSandboxProcess({ charges: 200 });
  const external = await coldStarts(runs, () => serverEnv(tempDir(), sandbox), [
    "serve",
    "--policy",
    POLICY,
  ]);
  console.log(row("serve --sandbox --policy support-refunds.yaml", sandboxed, 50));
  console.log(row("serve --policy (Stripe = the sandbox process)", external, 50));
  verdict(
    `cold start to tools/list p50 ${ms(sandboxed.p50, 0)} with --sandbox, ${ms(external.p50, 0)} against an external Stripe (no target: reported)`,
    null,
  );

  heading(`Resident memory of one serve --http process over ${calls} calls`);
  const home = tempDir();
  const key = await createAgentKey(home);
  // V8's own account: the heap left after each full collection (--trace-gc), which is
  // what a leak would make grow; RSS also holds heap V8 keeps for later and SQLite's cache.
  let n = 0;
  const afterGc = [];
  let pending = "";
  const server = await startHttpServer(serverEnv(home, sandbox), [], {
    node: ["--trace-gc"],
    onStdout(chunk) {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const match = /Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
        if (match) afterGc.push({ calls: n, heap: Number(match[1]) });
      }
    },
  });
  const samples = [{ calls: 0, ...rssMb(server.pid) }];
  const perSession = Math.ceil(every / 10);
  for (let done = 0; done < calls; done += every) {
    const sessions = await Promise.all(
      Array.from({ length: 10 }, () => connectHttp(server.url, key)),
    );
    await Promise.all(
      sessions.map(async ({ client }) => {
        for (let i = 0; i < perSession; i++) {
          const k = n++;
          const refund = k % 2 === 1;
          const outcome = await callTool(
            client,
            refund ? "issue_refund" : "lookup_charge",
            refund ? sandbox.refundArgs(k) : sandbox.readArgs(k),
          );
          if (!outcome.ok) throw new Error(`call refused: ${outcome.code}`);
        }
      }),
    );
    await Promise.all(sessions.map((s) => s.close()));
    samples.push({ calls: done + every, ...rssMb(server.pid) });
  }
  await server.stop();
  await sandbox.close();

  console.log(`  calls   ${samples.map((s) => String(s.calls).padStart(6)).join(" ")}`);
  console.log(`  RSS MB  ${samples.map((s) => s.rss.toFixed(1).padStart(6)).join(" ")}`);
  console.log(`  anon MB ${samples.map((s) => s.anon.toFixed(1).padStart(6)).join(" ")}`);
  // Trends after the first block (start-up and JIT warm-up come first).
  const sign = (x) => `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;
  const tail = samples.slice(2);
  const rssTrend = slope(
    tail.map((s) => s.calls / 1_000),
    tail.map((s) => s.rss),
  );
  const heaps = afterGc.filter((g) => g.calls >= every);
  const heapTrend = slope(
    heaps.map((g) => g.calls / 1_000),
    heaps.map((g) => g.heap),
  );
  const last = samples[samples.length - 1].rss;
  const peak = Math.max(...samples.map((s) => s.rss));
  console.log(
    `  V8 heap after each full GC (MB, at calls): ${afterGc.map((g) => `${g.heap}@${g.calls}`).join(" ")}`,
  );
  console.log(
    `  trend from ${every} calls on (least squares): RSS ${sign(rssTrend)} MB per 1,000 calls; heap after full GC ${sign(heapTrend)} MB per 1,000 calls over ${heaps.length} collections; peak RSS ${peak.toFixed(1)} MB`,
  );
  verdict(
    `memory: RSS after ${calls} calls ${last.toFixed(1)} MB, peak ${peak.toFixed(1)} MB (target < 100 MB)`,
    peak < 100,
  );
  verdict(
    `memory: live heap trend ${sign(heapTrend)} MB per 1,000 calls (no growth: under 0.1 MB per 1,000, i.e. < 100 bytes per call)`,
    heaps.length >= 3 ? heapTrend < 0.1 : null,
  );
  return { sandboxed, external, samples, rssTrend, heapTrend };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
