// Alert delay and cost: how long from a cap denial to a webhook receiver (on 127.0.0.1)
// having the alert — when the process that refused the call has the alerts file (the rule
// is evaluated right after the call's audit row, the delivery sent at once), and when only
// another process on the data directory has it (found by its poll, every second) — and
// what evaluating the rules after every call costs a call (stdio, reads, alerts on / off).
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  callTool,
  connectStdio,
  heading,
  ms,
  POLICY,
  scaled,
  serverEnv,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

/** A receiver that notes when each alert arrived, by the audit seq it is about. */
async function startReceiver() {
  const arrivals = new Map();
  const waiting = new Map();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const at = performance.now();
      res.writeHead(200).end("ok");
      const seq = JSON.parse(body).data?.audit_seq;
      arrivals.set(seq, at);
      waiting.get(seq)?.(at);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    /** Resolves with the arrival time of the alert about audit row `seq`. */
    arrival(seq) {
      if (arrivals.has(seq)) return Promise.resolve(arrivals.get(seq));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no alert for row ${seq}`)), 10_000);
        waiting.set(seq, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
    /** Forgets what arrived (each scenario's rows are numbered from 1 again). */
    reset() {
      arrivals.clear();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function alertsFile(dir, url) {
  const file = join(dir, "alerts.yaml");
  writeFileSync(
    file,
    `sinks:\n  - name: ops\n    url: ${url}\n    format: json\nrules:\n  - on: cap_denied\n    cooldown: 0s\n`,
  );
  return file;
}

/** Denials by `caller`; the time each alert arrived after the refused call's answer. */
async function denials(caller, receiver, sandbox, count, seqOf) {
  const delays = [];
  for (let i = 0; i < count; i++) {
    const args = { ...sandbox.refundArgs(i), amount: 20_000 };
    const outcome = await callTool(caller.client, "issue_refund", args);
    const answered = performance.now();
    if (outcome.ok || outcome.code !== "cap_per_call") {
      throw new Error(`expected cap_per_call, got ${outcome.code}`);
    }
    const arrived = await receiver.arrival(seqOf(i));
    delays.push(arrived - answered);
  }
  return stats(delays);
}

async function readLatency(client, sandbox, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const outcome = await callTool(client, "lookup_charge", sandbox.readArgs(i));
    samples.push(performance.now() - started);
    if (!outcome.ok) throw new Error(`lookup_charge refused: ${outcome.code}`);
  }
  return stats(samples);
}

export async function run({ count = scaled(30, 10), reads = scaled(300, 50) } = {}) {
  heading("Alerts: cap denial → receiver, and the cost of rules after every call");
  const sandbox = await startSandboxProcess({ charges: 20 });
  const receiver = await startReceiver();
  const results = {};
  try {
    // 1. The refusing process has the alerts file.
    {
      const home = tempDir();
      const env = {
        ...serverEnv(home, sandbox),
        SPENDGUARD_ALERTS: alertsFile(home, receiver.url),
      };
      const agent = await connectStdio(env);
      // Each denial is the session's next audit row: rows 1, 2, …
      results.same = await denials(agent, receiver, sandbox, count, (i) => i + 1);
      await agent.close();
    }
    // 2. Only another process (idle, same data directory) has it.
    receiver.reset();
    {
      const home = tempDir();
      const watcherEnv = {
        ...serverEnv(home, sandbox),
        SPENDGUARD_ALERTS: alertsFile(home, receiver.url),
      };
      const watcher = await connectStdio(watcherEnv);
      const agent = await connectStdio(serverEnv(home, sandbox));
      results.other = await denials(agent, receiver, sandbox, count, (i) => i + 1);
      await agent.close();
      await watcher.close();
    }
    // 3. Reads with and without rules evaluated after each call.
    for (const [label, withAlerts] of [
      ["off", false],
      ["on", true],
      ["off again", false],
    ]) {
      const home = tempDir();
      const env = withAlerts
        ? { ...serverEnv(home, sandbox), SPENDGUARD_ALERTS: alertsFile(home, receiver.url) }
        : serverEnv(home, sandbox);
      const agent = await connectStdio(env, ["serve", "--policy", POLICY]);
      await readLatency(agent.client, sandbox, 30);
      results[label] = await readLatency(agent.client, sandbox, reads);
      await agent.close();
    }
  } finally {
    await receiver.close();
    await sandbox.close();
  }

  console.log(`  ${count} cap denials each way (stdio, the sandbox in its own process)`);
  console.log(
    `  refused call answered → alert at the receiver, refusing process has the rules  p50 ${ms(results.same.p50)}  p90 ${ms(results.same.p90)}  max ${ms(results.same.max)}`,
  );
  console.log(
    `  … only another process on the data directory has them (1 s poll)            p50 ${ms(results.other.p50)}  p90 ${ms(results.other.p90)}  max ${ms(results.other.max)}`,
  );
  console.log(`  ${reads} lookup_charge calls over stdio, client-side latency:`);
  for (const label of ["off", "on", "off again"]) {
    const s = results[label];
    console.log(
      `    alerts ${label.padEnd(9)}  p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}`,
    );
  }
  const off = Math.min(results.off.p50, results["off again"].p50);
  console.log(`    ratio on / off at p50: ${(results.on.p50 / off).toFixed(2)}`);
  verdict(
    `alerts: cap denial → receiver max ${ms(results.same.max)} with the rules in the refusing process (target < 2 s)`,
    results.same.max < 2_000,
  );
  verdict(
    `alerts: cap denial → receiver max ${ms(results.other.max)} when another process polls (target < 2 s)`,
    results.other.max < 2_000,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
