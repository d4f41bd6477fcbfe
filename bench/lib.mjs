// Shared pieces of the benchmarks: statistics and tables, a Stripe sandbox in its own
// process with refundable charges, the built server over stdio and over HTTP, and keys.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { ROLE_KEYS } from "../dist/src/sandbox/index.js";
import { createStripeClient } from "../dist/src/stripe/client.js";

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const POLICY = join(ROOT, "bench/policy.yaml");
/** The demo role key whose permissions are exactly what the bench policy's tools need. */
export const ROLE_KEY = ROLE_KEYS["support-refunds"].key;
export const ADMIN_KEY = "sk_test_sg_sandbox_admin";
/** acme's Jane Doe in the demo seed: in the bench policy's scope, with a Visa card. */
export const CUSTOMER = "cus_SgAcmeJaneDoe";

/** `BENCH_SCALE=0.2 npm run bench` runs every benchmark with a fifth of its calls. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
export const scaled = (n, min = 1) => Math.max(min, Math.round(n * SCALE));

// ---------------------------------------------------------------------------------------
// Statistics and printing

export function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean,
  };
}

export const ms = (x, digits = 2) => `${x.toFixed(digits)} ms`;

/** One aligned row: label, then p50 / p99 / max / mean in ms. */
export function row(label, s, width = 46) {
  const cell = (x) => ms(x).padStart(10);
  return `  ${label.padEnd(width)} p50 ${cell(s.p50)}  p99 ${cell(s.p99)}  max ${cell(s.max)}  mean ${cell(s.mean)}  (n=${s.n})`;
}

/** Every verdict printed, for the runner's summary. */
export const verdicts = [];

/** "p99 overhead 0.42 ms (target < 1 ms) ✓", remembered for the summary. */
export function verdict(text, met) {
  const mark = met === null ? "·" : met ? "✓" : "✗";
  const line = `${text} ${mark}`;
  verdicts.push(line);
  console.log(`  → ${line}`);
  return met;
}

export function heading(title) {
  console.log(`\n## ${title}\n`);
}

export function loadAverage() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

export function sleep(millis) {
  return new Promise((done) => setTimeout(done, millis));
}

// ---------------------------------------------------------------------------------------
// Temporary data directories and child processes, all cleaned up at exit

const cleanups = [];

/** A fresh directory under BENCH_DIR (default: the OS temp dir), or under `base`. */
export function tempDir(base = process.env.BENCH_DIR ?? tmpdir()) {
  const dir = mkdtempSync(join(base, "spendguard-bench-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function track(child) {
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return child;
}

export function cleanupAll() {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()();
    } catch {
      // best effort
    }
  }
}

process.once("exit", cleanupAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    cleanupAll();
    process.exit(130);
  });
}

/** Waits for a line on `stream` matching `pattern`; resolves with the match. */
function waitForLine(child, stream, pattern, what, timeoutMs = 20_000) {
  return new Promise((resolveLine, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`${what}: nothing after ${timeoutMs} ms:\n${text}`)),
      timeoutMs,
    );
    const onData = (chunk) => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        stream.off("data", onData);
        stream.resume();
        resolveLine(match);
      }
    };
    stream.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${text}`));
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    child.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------------------------------
// The Stripe sandbox, in its own process (Stripe is elsewhere, not on the server's loop)

/**
 * `spendguard sandbox --port 0`, plus `charges` fresh $10,000 charges of acme's Jane Doe
 * to refund from (the demo seed has only a handful of refundable charges).
 */
export async function startSandboxProcess({ charges = 200 } = {}) {
  const child = track(
    spawn(process.execPath, [CLI, "sandbox", "--port", "0", "--seed", "demo", "--in-memory"], {
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stderr.resume();
  const [, url] = await waitForLine(child, child.stdout, /listening on (http:\/\/\S+)/, "sandbox");
  const admin = createStripeClient({ apiKey: ADMIN_KEY, baseUrl: url });
  const ids = [];
  for (let i = 0; i < charges; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, charges - i) }, () =>
        admin.charges.create({ amount: 1_000_000, currency: "usd", customer: CUSTOMER }),
      ),
    );
    ids.push(...batch.map((charge) => charge.id));
  }
  return {
    url,
    pid: child.pid,
    charges: ids,
    /** Distinct, in-scope refund arguments for call number `i` (unique `i`, unique call). */
    refundArgs(i) {
      return {
        charge: ids[i % ids.length],
        amount: 100 + Math.floor(i / ids.length),
        reason: "requested_by_customer",
      };
    },
    readArgs(i) {
      return { charge: ids[i % ids.length] };
    },
    close: () => stopChild(child),
  };
}

// ---------------------------------------------------------------------------------------
// The built server

/** BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" profiles the HTTP server. */
const nodeArgs = () => (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);

/** Environment for a server using the sandbox as its Stripe. */
export function serverEnv(home, sandbox) {
  return {
    PATH: process.env.PATH ?? "",
    SPENDGUARD_HOME: home,
    STRIPE_API_KEY: ROLE_KEY,
    SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
    SPENDGUARD_LOG_LEVEL: "warn",
  };
}

/** `spendguard serve --policy bench/policy.yaml` over stdio, with the SDK's Client. */
export async function connectStdio(env, args = ["serve", "--policy", POLICY]) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...args],
    env,
    stderr: "pipe",
  });
  transport.stderr?.resume();
  const client = new Client({ name: "spendguard-bench", version: "0.0.0" });
  await client.connect(transport);
  return { client, pid: transport.pid, close: () => client.close() };
}

/**
 * `spendguard keys create --agent NAME --policy bench/policy.yaml`: the sg_agent_ key, in
 * the SQLite store of `home`, or in the PostgreSQL of `databaseUrl` when given.
 */
export async function createAgentKey(home, agent = "bench", databaseUrl = undefined) {
  const where = databaseUrl ? ["--database", databaseUrl] : ["--home", home];
  const child = spawn(
    process.execPath,
    [CLI, "keys", "create", "--agent", agent, "--policy", POLICY, "--json", ...where],
    { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr.on("data", (chunk) => {
    err += chunk;
  });
  const code = await new Promise((done) => child.once("exit", done));
  if (code !== 0) throw new Error(`keys create failed (${code}):\n${out}\n${err}`);
  return JSON.parse(out).key;
}

/**
 * `spendguard serve --http --port 0`, resolved once it logs where it listens. The per-key
 * rate limit (20 requests/s by default) is raised out of the way: the benchmarks measure
 * the server, not the limiter.
 */
export async function startHttpServer(env, extraArgs = [], { node = [], onStdout } = {}) {
  const args = ["serve", "--http", "--port", "0", "--rate-limit", "1000000", ...extraArgs];
  const fromEnv = nodeArgs();
  const child = track(
    spawn(process.execPath, [...fromEnv, ...node, CLI, ...args], {
      env: { ...env, SPENDGUARD_LOG_LEVEL: "info" },
      // What the runtime prints (--trace-gc, …) goes to `onStdout`, or is shown.
      stdio: ["ignore", onStdout ? "pipe" : fromEnv.length > 0 ? "inherit" : "ignore", "pipe"],
    }),
  );
  if (onStdout) child.stdout.on("data", onStdout);
  const [line] = await waitForLine(
    child,
    child.stderr,
    /\{[^\n]*"msg":"listening"[^\n]*\}/,
    "serve --http",
  );
  return { url: JSON.parse(line).url, pid: child.pid, child, stop: () => stopChild(child) };
}

/** An MCP client over Streamable HTTP with `key` as its bearer token. */
export async function connectHttp(url, key) {
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: "spendguard-bench", version: "0.0.0" });
  await client.connect(transport);
  return {
    client,
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** A tool call's outcome: ok, or the guard's error code. */
export async function callTool(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  if (!result.isError) return { ok: true, data: result.structuredContent };
  const first = result.content?.[0];
  try {
    const { error } = JSON.parse(first?.type === "text" ? first.text : "{}");
    return { ok: false, code: error?.code ?? "unknown" };
  } catch {
    return { ok: false, code: "unparsed" };
  }
}

/**
 * Resident set size of a process in MB (Linux: /proc/PID/status), and its anonymous part
 * (heaps: V8's, SQLite's page cache, buffers), without mapped files and shared memory.
 */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field("VmRSS"), anon: field("RssAnon") };
}

/**
 * CPU time of every PostgreSQL process on this machine (postmaster, backends, writers), in
 * ms by pid: the database's own cost, to read before and after a pass.
 */
export function postgresCpuMs() {
  const byPid = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "postgres") continue;
      byPid.set(entry, cpuMs(entry));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** CPU used by PostgreSQL between two `postgresCpuMs()` readings (new backends from 0). */
export function postgresCpuSince(before) {
  let total = 0;
  for (const [pid, now] of postgresCpuMs()) total += now - (before.get(pid) ?? 0);
  return total;
}

/**
 * A new, migrated, empty database on the PostgreSQL server `adminUrl` names (a superuser
 * URL: BENCH_DATABASE_URL), dropped at the end. Resolves with its URL.
 */
export async function freshDatabase(adminUrl) {
  const { default: pg } = await import("pg");
  const name = `spendguard_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const migrate = spawn(process.execPath, [CLI, "migrate", "--database", url.toString()], {
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const code = await new Promise((done) => migrate.once("exit", done));
  if (code !== 0) throw new Error(`spendguard migrate failed (${code})`);
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms (Linux: /proc/PID/stat). */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** An audit row to append straight to a store (benchmarks that build a ledger): `fields` override. */
export function auditEntry(fields) {
  return {
    at: new Date().toISOString(),
    session: "ses_000000000000000000000000",
    agent: "bench",
    tool: "issue_refund",
    args: "{}",
    decision: "allow",
    code: null,
    rule: null,
    reason: null,
    stripe_request_id: null,
    idempotency_key: null,
    amount: null,
    currency: null,
    amount_cap: null,
    cap_currency: "usd",
    revenue_at_risk_cap: null,
    customer: "cus_bench",
    outcome: "ok",
    duration_ms: 1,
    ...fields,
  };
}
