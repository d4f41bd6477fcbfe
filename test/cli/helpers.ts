import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { CallToolResult, Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import type { Sandbox } from "../../src/sandbox/index.js";
import { newClient } from "../e2e/harness.js";

/** The checkout; the CLI under test is the built one, run as a child process. */
export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/src/cli/main.js");
export const POLICIES = join(ROOT, "policies");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `spendguard ARGS` and collects its output. Asynchronous on purpose: a sandbox in
 * this process must keep answering while the child talks to it.
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
    };
    for (const [key, value] of Object.entries(options.env ?? {})) {
      if (value !== undefined) env[key] = value;
    }
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`spendguard ${args.join(" ")} did not finish:\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export function tempDir(prefix = "spendguard-cli-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real server over stdio against a sandbox in this process, as an MCP client sees it. */
export async function startServer(options: {
  sandbox: Sandbox;
  home: string;
  policy?: string;
  args?: string[];
}): Promise<{ client: Client; stderr: () => string; close(): Promise<void> }> {
  const policy = options.policy ?? "support-refunds";
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--policy", join(POLICIES, `${policy}.yaml`), ...(options.args ?? [])],
    env: {
      PATH: process.env.PATH ?? "",
      STRIPE_API_KEY: (options.sandbox.keys.roles as Record<string, string>)[policy] ?? "",
      SPENDGUARD_HOME: options.home,
      SPENDGUARD_STRIPE_BASE_URL: options.sandbox.url,
      SPENDGUARD_LOG_LEVEL: "warn",
    },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = newClient("spendguard-cli-test");
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<
  { ok: true; data: Record<string, unknown> } | { ok: false; code: string; message: string }
> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (!result.isError)
    return { ok: true, data: (result.structuredContent ?? {}) as Record<string, unknown> };
  const first = result.content[0];
  const { error } = JSON.parse(first?.type === "text" ? first.text : "{}") as {
    error: { code: string; message: string };
  };
  return { ok: false, code: error.code, message: error.message };
}

/** Runs the demo into `home` once: a real data set (sessions, refunds, denials, a kill). */
export async function demoHome(home: string): Promise<CliRun> {
  const run = await runCli(["demo", "--home", home], { timeoutMs: 30_000 });
  if (run.code !== 0) throw new Error(`the demo failed:\n${run.stdout}\n${run.stderr}`);
  return run;
}
