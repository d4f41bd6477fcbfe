import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type CallToolResult, Client, type ClientOptions } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { parse, stringify } from "yaml";
import { type Sandbox, startSandbox } from "../../src/sandbox/index.js";

/** The checkout's root; the built CLI lives under it in dist/. */
export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/src/cli/main.js");

/**
 * The protocol revision the tests' v2 clients speak: 2026-07-28 when
 * SPENDGUARD_TEST_REVISION says so (the vitest project of that name), else 2025-11-25.
 */
export const REVISION =
  process.env.SPENDGUARD_TEST_REVISION === "2026-07-28" ? "2026-07-28" : "2025-11-25";
export const MODERN = REVISION === "2026-07-28";

/** A v2 SDK client on the tests' revision (pinned, so a 2025 fallback cannot hide a fault). */
export function newClient(name: string, options: ClientOptions = {}): Client {
  return new Client(
    { name, version: "0.0.0" },
    MODERN ? { ...options, versionNegotiation: { mode: { pin: "2026-07-28" } } } : options,
  );
}

export function tempHome(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "spendguard-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A ready policy from policies/, with fields overridden, written to a temp file. */
export function policyFile(dir: string, base: string, overrides: Record<string, unknown> = {}) {
  const policy = {
    ...(parse(readFileSync(join(ROOT, "policies", `${base}.yaml`), "utf8")) as object),
    ...overrides,
  };
  const file = join(dir, `${base}-${Math.random().toString(36).slice(2, 8)}.yaml`);
  writeFileSync(file, stringify(policy));
  return file;
}

export interface ServerOptions {
  policy: string;
  home: string;
  sandbox: Sandbox;
  key: string;
  args?: string[];
  env?: Record<string, string>;
  /** Options for node itself, before the CLI (a `--import` preload, say). */
  nodeArgs?: string[];
  /** The test's own client (one that declares elicitation, say); a plain one by default. */
  client?: Client;
}

/** Spawns the built server over stdio, as mcp.json does, and connects the SDK's Client. */
export async function connectStdio(options: ServerOptions): Promise<{
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  close(): Promise<void>;
}> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      ...(options.nodeArgs ?? []),
      CLI,
      "serve",
      "--policy",
      options.policy,
      ...(options.args ?? []),
    ],
    env: {
      PATH: process.env.PATH ?? "",
      STRIPE_API_KEY: options.key,
      SPENDGUARD_HOME: options.home,
      SPENDGUARD_STRIPE_BASE_URL: options.sandbox.url,
      SPENDGUARD_LOG_LEVEL: "info",
      ...options.env,
    },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = options.client ?? newClient("spendguard-test");
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

/** `spendguard serve --operator` over stdio on `home` (no Stripe key), connected. */
export async function connectOperatorStdio(home: string): Promise<Client> {
  const client = newClient("operator-test");
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "serve", "--operator"],
      env: {
        PATH: process.env.PATH ?? "",
        SPENDGUARD_HOME: home,
        SPENDGUARD_LOG_LEVEL: "warn",
      },
      stderr: "pipe",
    }),
  );
  return client;
}

export interface ToolError {
  code: string;
  message: string;
  hint?: string;
}

/** The `{code, message, hint}` of an error result; fails the test if the call succeeded. */
export function errorOf(result: CallToolResult): ToolError {
  if (!result.isError) throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  const first = result.content[0];
  if (first?.type !== "text") throw new Error("error result without text");
  return (JSON.parse(first.text) as { error: ToolError }).error;
}

export function okOf<T = Record<string, unknown>>(result: CallToolResult): T {
  if (result.isError) throw new Error(`expected success, got ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export { startSandbox };
