// The console's cost: rendering the overview (what every listening page gets again on
// each change) for 10, 50 and 100 active sessions with 20 calls each, and the live
// latency from an audit row written by another process to the overview's server-sent
// event arriving at a signed-in client of `spendguard console`.
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { createConsole } from "../dist/src/console/console.js";
import { overviewFragment } from "../dist/src/console/views/overview.js";
import { createApiKey } from "../dist/src/keys/api-keys.js";
import { silentLogger } from "../dist/src/logger.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import {
  auditEntry,
  CLI,
  heading,
  ms,
  POLICY,
  row,
  scaled,
  sleep,
  stats,
  tempDir,
  track,
  verdict,
} from "./lib.mjs";

const CALLS = 20;

function entry(session, agent, at, amount) {
  return auditEntry({
    at: new Date(at).toISOString(),
    session,
    agent,
    amount,
    currency: "usd",
    amount_cap: amount,
    customer: "cus_SgAcmeJaneDoe",
  });
}

/** `sessions` active sessions of agent `bench`, each with CALLS settled $1 refunds. */
async function seed(store, sessions) {
  const now = Date.now();
  for (let s = 0; s < sessions; s++) {
    const id = `ses_${s.toString(16).padStart(24, "0")}`;
    await store.createSession({
      id,
      agent: "bench",
      policy_name: "bench",
      policy_hash: "0".repeat(64),
      started_at: now,
      expires_at: null,
      state: "active",
      state_changed_at: null,
      killed_by: null,
      kill_reason: null,
    });
    for (let c = 0; c < CALLS; c++) {
      const admitted = await store.admit(
        {
          session: id,
          agent: "bench",
          tool: "issue_refund",
          customer: "cus_SgAcmeJaneDoe",
          call_key: null,
          idempotency_key: null,
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
          created_at: now,
        },
        () => ({ outcome: "allow" }),
      );
      await store.settle(
        admitted.admission.id,
        { amount: 100, amount_cap: 100, stripe_request_id: null, result: null },
        entry(id, "bench", now, 100),
      );
    }
  }
}

async function renderCost(sessions, rounds) {
  const home = tempDir();
  const store = openSqliteStore(home);
  await seed(store, sessions);
  const operatorConsole = createConsole({
    store,
    home,
    logger: silentLogger,
    policyFiles: [POLICY],
  });
  const ctx = {
    store,
    home,
    logger: silentLogger,
    policies: { get: async () => undefined },
    signIn: operatorConsole.signIn,
    now: Date.now,
  };
  await overviewFragment(ctx);
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await overviewFragment(ctx);
    samples.push(performance.now() - t);
  }
  operatorConsole.close();
  await store.close();
  return stats(samples);
}

async function liveLatency(trials) {
  const home = tempDir();
  const store = openSqliteStore(home);
  await seed(store, 10);
  const { key } = await createApiKey(store, {
    kind: "operator",
    name: "bench",
    policyFile: null,
    expiresAt: null,
  });
  const child = track(
    spawn(process.execPath, [CLI, "console", "--port", "0", "--home", home], {
      env: { PATH: process.env.PATH ?? "", SPENDGUARD_LOG_LEVEL: "info" },
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  const url = await new Promise((resolve, reject) => {
    let err = "";
    child.stderr.on("data", (chunk) => {
      err += chunk;
      const line = err.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) resolve(JSON.parse(line).url);
    });
    child.once("exit", (code) => reject(new Error(`console exited (${code}):\n${err}`)));
  });
  const form = await fetch(`${url}/console/sign-in`);
  const formCookie = (form.headers.get("set-cookie") ?? "").split(";")[0];
  const token = /name="form_token" value="([^"]+)"/.exec(await form.text())[1];
  const signed = await fetch(`${url}/console/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: formCookie },
    body: new URLSearchParams({ form_token: token, next: "/console", key }).toString(),
  });
  const cookie = signed.headers
    .getSetCookie()
    .find((c) => c.startsWith("spendguard_operator="))
    .split(";")[0];
  const stream = await fetch(`${url}/console/live/overview`, { headers: { Cookie: cookie } });
  const reader = stream.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const nextUpdate = async () => {
    for (;;) {
      const at = buffer.indexOf("event: update");
      if (at >= 0) {
        const end = buffer.indexOf("\n\n", at);
        if (end >= 0) {
          buffer = buffer.slice(end + 2);
          return performance.now();
        }
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended");
      buffer += decoder.decode(value, { stream: true });
    }
  };
  await nextUpdate(); // the one sent at connection
  const samples = [];
  for (let i = 0; i < trials; i++) {
    await sleep(50 + Math.random() * 450);
    const t = performance.now();
    await store.appendAudit(entry("ses_000000000000000000000000", "bench", Date.now(), 100));
    samples.push((await nextUpdate()) - t);
  }
  await reader.cancel();
  child.kill("SIGTERM");
  await store.close();
  return stats(samples);
}

export async function run() {
  heading("Console: overview rendering and live latency (bench/console.bench.mjs)");
  const rounds = scaled(50, 10);
  const render = {};
  for (const sessions of [10, 50, 100]) {
    render[sessions] = await renderCost(sessions, rounds);
    console.log(
      row(`overview fragment, ${sessions} active sessions × ${CALLS} calls`, render[sessions], 52),
    );
  }
  verdict(
    `overview for 100 sessions p99 ${ms(render[100].p99)} (target < 100 ms: well inside the 500 ms poll)`,
    render[100].p99 < 100,
  );
  const trials = scaled(20, 5);
  const live = await liveLatency(trials);
  console.log(row("audit row written → overview event at the browser", live, 52));
  verdict(
    `live update p99 ${ms(live.p99)} (target < 1000 ms: one 500 ms poll plus rendering)`,
    live.p99 < 1000,
  );
}
