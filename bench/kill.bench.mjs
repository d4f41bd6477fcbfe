// Kill latency: while an agent's session keeps calls in flight (4 concurrent loops of
// lookup_charge and issue_refund over Streamable HTTP), the session is killed the way
// `spendguard kill SESSION` does it (the database row, then the flag file) — or with the
// flag file alone, as another process on the data directory might — and the benchmark
// measures the time from the kill written to the first refused answer, and counts calls
// that slipped through: sent after the kill was written and still allowed (target 0).
// Calls already in flight at the kill that completed are counted apart (they were
// admitted before it, or passed the last check before the Stripe write).
import { performance } from "node:perf_hooks";
import { writeKillFlag } from "../dist/src/guard/kill.js";
import { stopSessions } from "../dist/src/operator/kill-switch.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import {
  callTool,
  connectHttp,
  createAgentKey,
  heading,
  ms,
  scaled,
  serverEnv,
  sleep,
  startHttpServer,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

const LOOPS = 4;

async function trial({ server, key, store, home, sandbox, counter, mode }) {
  const session = await connectHttp(server.url, key);
  const status = await callTool(session.client, "session_status", {});
  const sessionId = status.data.session_id;
  const calls = [];
  let killedAt = null;
  let stop = false;
  const loop = async (lane) => {
    for (let i = 0; !stop; i++) {
      const refund = (i + lane) % 2 === 1;
      const n = counter.n++;
      const call = { sentAt: performance.now(), doneAt: 0, ok: false, code: null, refund };
      calls.push(call);
      const outcome = await callTool(
        session.client,
        refund ? "issue_refund" : "lookup_charge",
        refund ? sandbox.refundArgs(n) : sandbox.readArgs(n),
      );
      call.doneAt = performance.now();
      call.ok = outcome.ok;
      call.code = outcome.ok ? null : outcome.code;
      if (!outcome.ok && outcome.code === "session_killed") return;
      if (!outcome.ok) throw new Error(`unexpected refusal before the kill: ${outcome.code}`);
    }
  };
  const loops = Array.from({ length: LOOPS }, (_, lane) => loop(lane));
  await sleep(80 + Math.random() * 120);
  const writeStarted = performance.now();
  if (mode === "kill") {
    await stopSessions(
      store,
      home,
      { session: await store.getSession(sessionId) },
      { by: "bench", reason: "kill latency benchmark" },
    );
  } else {
    writeKillFlag(home, sessionId, "kill latency benchmark (flag only)");
  }
  killedAt = performance.now();
  const killedAtWall = Date.now();
  const guard = setTimeout(() => {
    stop = true;
  }, 5_000);
  await Promise.all(loops);
  clearTimeout(guard);
  await session.close();

  const refused = calls
    .filter((c) => c.code === "session_killed")
    .sort((a, b) => a.doneAt - b.doneAt);
  const firstRefused = refused[0].doneAt;
  // The server's side, from the audit (each row's time is when the guard took the call,
  // just before its session check; millisecond resolution, same clock).
  const rows = await store.queryAudit({ session: sessionId });
  const deniedAt = rows.filter((r) => r.code === "session_killed").map((r) => Date.parse(r.at));
  return {
    latency: firstRefused - killedAt,
    // The same, less the time until the agent made its next call (its own cadence).
    refusalRoundTrip: firstRefused - Math.max(killedAt, refused[0].sentAt),
    serverLatency: Math.max(0, Math.min(...deniedAt) - killedAtWall),
    serverSlipped: rows.filter((r) => r.decision === "allow" && Date.parse(r.at) > killedAtWall)
      .length,
    write: killedAt - writeStarted,
    slipped: calls.filter((c) => c.sentAt > killedAt && c.ok).length,
    inFlightCompleted: calls.filter((c) => c.sentAt <= killedAt && c.doneAt > killedAt && c.ok)
      .length,
    before: calls.filter((c) => c.doneAt <= killedAt).length,
  };
}

export async function run({ trials = scaled(20, 5) } = {}) {
  heading("Kill latency: kill written → first refused call, and calls that slipped through");
  const sandbox = await startSandboxProcess({ charges: 200 });
  const home = tempDir();
  const key = await createAgentKey(home);
  const server = await startHttpServer(serverEnv(home, sandbox));
  const store = openSqliteStore(home);
  const counter = { n: 0 };
  console.log(
    `  ${trials} trials per way, ${LOOPS} concurrent call loops on the session (reads and refunds alternating), Streamable HTTP`,
  );
  const results = {};
  for (const mode of ["kill", "flag"]) {
    const runs = [];
    for (let i = 0; i < trials; i++) {
      runs.push(await trial({ server, key, store, home, sandbox, counter, mode }));
    }
    results[mode] = runs;
  }
  await store.close();
  await server.stop();
  await sandbox.close();

  const labels = {
    kill: "`spendguard kill SESSION` (row + flag file)",
    flag: "flag file alone (writeKillFlag)",
  };
  let allSlipped = 0;
  let worst = 0;
  let worstClient = 0;
  for (const [mode, runs] of Object.entries(results)) {
    const latency = stats(runs.map((r) => r.latency));
    const server = stats(runs.map((r) => r.serverLatency));
    const roundTrip = stats(runs.map((r) => r.refusalRoundTrip));
    const serverSlipped = runs.reduce((sum, r) => sum + r.serverSlipped, 0);
    const write = stats(runs.map((r) => r.write));
    const slipped = runs.reduce((sum, r) => sum + r.slipped, 0);
    const inFlight = runs.reduce((sum, r) => sum + r.inFlightCompleted, 0);
    const before = runs.reduce((sum, r) => sum + r.before, 0);
    allSlipped += slipped + serverSlipped;
    worst = Math.max(worst, server.max);
    worstClient = Math.max(worstClient, latency.p50);
    console.log(`\n  ${labels[mode]}`);
    console.log(
      `    written → first refused answer at the client  p50 ${ms(latency.p50)}  p90 ${ms(latency.p90)}  max ${ms(latency.max)}   (writing the kill itself: p50 ${ms(write.p50)}, max ${ms(write.max)})`,
    );
    console.log(
      `    of which the refused call itself (answer − max(kill, its sending))  p50 ${ms(roundTrip.p50)}  p90 ${ms(roundTrip.p90)}  max ${ms(roundTrip.max)}`,
    );
    console.log(
      `    written → first refusing check in the server (audit time, 1 ms resolution)  p50 ${ms(server.p50, 0)}  p90 ${ms(server.p90, 0)}  max ${ms(server.max, 0)}`,
    );
    console.log(
      `    slipped: ${slipped} calls sent after the kill and allowed, ${serverSlipped} allowed audit rows timed after it; in flight at the kill and completed: ${inFlight}; calls before the kill: ${before}`,
    );
  }
  verdict(`kill: ${allSlipped} calls slipped through (target 0)`, allSlipped === 0);
  verdict(
    `kill: written → first refused answer at the client p50 ${ms(worstClient)} (worse of the two ways; target < 5 ms)`,
    worstClient < 5,
  );
  verdict(
    `kill: written → first refusing check in the server max ${ms(worst, 0)} over ${trials * 2} trials (target < 5 ms)`,
    worst < 5,
  );
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
