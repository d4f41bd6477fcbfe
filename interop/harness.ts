import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";

/**
 * The built spendguard server as a black box for third-party MCP clients: spawned from the
 * checkout (`node dist/src/cli/main.js serve …`, built by the root `npm run build`) with its
 * built-in Stripe sandbox, over stdio or `serve --http` on 127.0.0.1, in a temp data
 * directory with agent keys made by the real CLI. Nothing here imports spendguard's code,
 * so the suite keeps working whatever SDK the server is built on.
 */

export const ROOT = resolve(import.meta.dirname, "..");
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const POLICY = join(ROOT, "policies/support-refunds.yaml");
/** How long one client may take for one step (spawning, connecting, a call). */
export const STEP_MS = 30_000;

const run = promisify(execFile);

export interface Home {
  dir: string;
  cleanup(): void;
}

export function tempHome(): Home {
  const dir = mkdtempSync(join(tmpdir(), "spendguard-interop-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clean environment for a child: no keys or settings of the machine leak in. */
export function childEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: home,
    SPENDGUARD_HOME: home,
    SPENDGUARD_LOG_LEVEL: "warn",
    ...extra,
  };
}

/** What an MCP client config puts in `command`/`args`/`env` for spendguard over stdio. */
export function stdioServer(home: string): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  return {
    command: process.execPath,
    args: [CLI, "serve", "--sandbox", "--policy", POLICY],
    env: childEnv(home),
  };
}

/** `spendguard ARGS…` in a data directory; its stdout. */
export async function cli(home: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    env: childEnv(home),
    timeout: STEP_MS,
  });
  return stdout;
}

export interface AgentKey {
  id: string;
  key: string;
}

/** `spendguard keys create ARGS… --json` (`--agent NAME --policy FILE`, `--operator --name NAME`). */
export async function createKey(home: string, args: string[]): Promise<AgentKey> {
  const { id, key } = JSON.parse(
    await cli(home, ["keys", "create", ...args, "--json"]),
  ) as AgentKey;
  return { id, key };
}

/** `spendguard keys create --agent NAME --policy policies/support-refunds.yaml --json`. */
export function createAgentKey(home: string, agent = "support-bot"): Promise<AgentKey> {
  return createKey(home, ["--agent", agent, "--policy", POLICY]);
}

export async function revokeKey(home: string, id: string): Promise<void> {
  await cli(home, ["keys", "revoke", id]);
}

export interface HttpServer {
  /** e.g. http://127.0.0.1:43117 */
  url: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** `spendguard serve --http --sandbox --port 0 ARGS…`; resolves once it logs where it listens. */
export async function startHttpServer(home: string, args: string[] = []): Promise<HttpServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, "serve", "--http", "--sandbox", "--port", "0", ...args],
    { env: childEnv(home, { SPENDGUARD_LOG_LEVEL: "info" }), stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const url = await new Promise<string>((found, fail) => {
    const timer = setTimeout(() => fail(new Error(`no "listening" line:\n${stderr}`)), STEP_MS);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        found((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once("exit", (code) => fail(new Error(`server exited (${code}):\n${stderr}`)));
  });
  return {
    url,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A tool call's outcome as every client reports it, reduced to what the scenario checks. */
export type Outcome = { ok: true; text: string } | { ok: false; code: string; message: string };

/**
 * spendguard's refusals are tool errors whose text is `{"error":{"code","message"}}`. Some
 * clients return that text, others throw it inside their own message: find it in either.
 */
export function refusalIn(text: string): Outcome | undefined {
  const match = /\{"error":\{"code":"([a-z_]+)","message":"((?:[^"\\]|\\.)*)"/.exec(
    text.replaceAll('\\"', '"'),
  );
  return match ? { ok: false, code: match[1] ?? "", message: match[2] ?? "" } : undefined;
}

/** What one client does: list tool names, call a tool. */
export interface ScenarioClient {
  toolNames(): Promise<string[]>;
  call(name: string, args: Record<string, unknown>): Promise<Outcome>;
}

export const CHARGES = {
  /** $500.00, acme (in scope): room for a $10 refund from every scenario on one sandbox. */
  acmeLarge: "ch_SgAcmeLarge500Usd",
  /** €75.00, globex (out of scope for support-refunds). */
  globex: "ch_SgGlobexEur75",
};

/**
 * The scenario every client × transport runs: list the tools, look up a charge, a refund
 * in scope (succeeds), one out of scope (`customer_out_of_scope`), one over the $100
 * per-call cap (`cap_per_call`).
 */
export async function runScenario(client: ScenarioClient): Promise<void> {
  const names = await client.toolNames();
  expect(names).toEqual(expect.arrayContaining(["lookup_charge", "issue_refund"]));

  const lookup = await client.call("lookup_charge", { charge: CHARGES.acmeLarge });
  expect(lookup).toMatchObject({ ok: true, text: expect.stringContaining(CHARGES.acmeLarge) });

  const inScope = await client.call("issue_refund", {
    charge: CHARGES.acmeLarge,
    amount: 1000,
    reason: "requested_by_customer",
  });
  // The text ("Refunded $10.00 of …") or, for clients that return structured content, the
  // refund object: both name the amount.
  expect(inScope).toMatchObject({ ok: true, text: expect.stringContaining("$10.00") });

  const outOfScope = await client.call("issue_refund", {
    charge: CHARGES.globex,
    amount: 1000,
    reason: "duplicate",
  });
  expect(outOfScope).toMatchObject({ ok: false, code: "customer_out_of_scope" });

  const overCap = await client.call("issue_refund", {
    charge: CHARGES.acmeLarge,
    amount: 15_000,
    reason: "duplicate",
  });
  expect(overCap).toMatchObject({ ok: false, code: "cap_per_call" });
}

/** What both SDK generations' clients offer. */
export interface AnyClient {
  listTools(): Promise<{ tools: { name: string }[] }>;
  callTool(request: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
}

/** The SDK's CallToolResult as an Outcome. */
export function sdkOutcome(result: unknown): Outcome {
  const { content, isError } = result as {
    content: { type: string; text?: string }[];
    isError?: boolean;
  };
  const text = content.map((block) => block.text ?? "").join("\n");
  if (!isError) return { ok: true, text };
  return refusalIn(text) ?? { ok: false, code: "unparsed", message: text };
}

export function sdkScenarioClient(client: AnyClient): ScenarioClient {
  return {
    toolNames: async () => (await client.listTools()).tools.map((tool) => tool.name),
    call: async (name, args) => sdkOutcome(await client.callTool({ name, arguments: args })),
  };
}

/**
 * One HTTP server and data directory per test file, with one agent key per transport
 * (each its own agent, so one scenario's refunds never count against another's caps),
 * and a second data directory for the stdio server: a data directory runs one sandbox at
 * a time, and the HTTP server's holds its own.
 */
export function httpFixture(): {
  setup(): Promise<void>;
  teardown(): Promise<void>;
  url(path: "/mcp" | "/sse"): string;
  key(agent: string): Promise<string>;
  home(): string;
  /** What a client config names for spendguard over stdio, in the stdio data directory. */
  stdio(): ReturnType<typeof stdioServer>;
  /** That data directory (client config files go there). */
  stdioHome(): string;
} {
  let home: Home | undefined;
  let stdioHome: Home | undefined;
  let server: HttpServer | undefined;
  return {
    async setup() {
      home = tempHome();
      stdioHome = tempHome();
      server = await startHttpServer(home.dir);
    },
    async teardown() {
      await server?.stop();
      home?.cleanup();
      stdioHome?.cleanup();
    },
    url: (path) => `${server?.url}${path}`,
    key: async (agent) => (await createAgentKey(home?.dir ?? "", agent)).key,
    home: () => home?.dir ?? "",
    stdio: () => stdioServer(stdioHome?.dir ?? ""),
    stdioHome: () => stdioHome?.dir ?? "",
  };
}
