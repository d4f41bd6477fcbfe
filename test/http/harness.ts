import { type ChildProcess, spawn } from "node:child_process";
import type { CallToolResult } from "@modelcontextprotocol/client";
import {
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import { type CliRun, runCli as runCliWith } from "../cli/helpers.js";
import { CLI } from "../e2e/harness.js";

/**
 * The built server over HTTP, as a child process on 127.0.0.1 with a free port, and the
 * SDK's HTTP clients. Keys are made with the real CLI in the test's data directory.
 */

export { CLI, call, policyFile, ROOT, tempHome } from "../e2e/harness.js";

/** `spendguard ARGS` with `env` (asynchronously: a sandbox in this process keeps answering). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCliWith(args, { env });
}

export interface CreatedKey {
  id: string;
  key: string;
}

/** `spendguard keys create … --json`, returning the key id and the key. */
export async function createKey(home: string, args: string[]): Promise<CreatedKey> {
  const run = await runCli(["keys", "create", ...args, "--json", "--home", home]);
  if (run.code !== 0) throw new Error(`keys create failed:\n${run.stdout}\n${run.stderr}`);
  const created = JSON.parse(run.stdout) as CreatedKey;
  return { id: created.id, key: created.key };
}

export interface HttpServer {
  url: string;
  stderr(): string;
  /** Log lines (pino JSON) with this message. */
  logs(msg: string): Record<string, unknown>[];
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  child: ChildProcess;
}

/** `spendguard serve --http --port 0 ARGS`; resolves once it logs where it listens. */
export async function startHttpServer(options: {
  home: string;
  env: Record<string, string>;
  args?: string[];
}): Promise<HttpServer> {
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--http", "--port", "0", ...(options.args ?? [])],
    {
      env: {
        PATH: process.env.PATH ?? "",
        SPENDGUARD_HOME: options.home,
        SPENDGUARD_LOG_LEVEL: "info",
        ...options.env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  const exited = new Promise<number | null>((resolveExit) => child.on("exit", resolveExit));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line:\n${stderr}`)), 10_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        resolveUrl((JSON.parse(line) as { url: string }).url);
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${stderr}`)));
  });
  const logs = (msg: string) =>
    stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === msg);
  return {
    url,
    child,
    stderr: () => stderr,
    logs,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export type Wire = "streamable" | "sse";

export interface Connected {
  client: Client;
  /** The Mcp-Session-Id (streamable) */
  sessionId(): string | undefined;
  /** Ends the session as a client does: DELETE (streamable) or closing the stream (SSE). */
  close(): Promise<void>;
}

/** An MCP client over either HTTP transport, sending `key` as a bearer token. */
export async function connect(
  url: string,
  key: string,
  wire: Wire = "streamable",
  /** The test's own client (one that declares elicitation, say); a plain one by default. */
  client = new Client({ name: "spendguard-http-test", version: "0.0.0" }),
): Promise<Connected> {
  const headers = { Authorization: `Bearer ${key}` };
  if (wire === "streamable") {
    const transport = new StreamableHTTPClientTransport(new URL("/mcp", url), {
      requestInit: { headers },
    });
    await client.connect(transport);
    return {
      client,
      sessionId: () => transport.sessionId,
      async close() {
        await transport.terminateSession().catch(() => undefined);
        await client.close();
      },
    };
  }
  // The SDK's SSE client sends requestInit's headers on the event stream's GET too.
  const transport = new SSEClientTransport(new URL("/sse", url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, sessionId: () => undefined, close: () => client.close() };
}

/** `ok` with structured content, or the error's code. */
export function outcome(
  result: CallToolResult,
): { ok: true; data: Record<string, unknown> } | { ok: false; code: string; message: string } {
  if (!result.isError)
    return { ok: true, data: (result.structuredContent ?? {}) as Record<string, unknown> };
  const first = result.content[0];
  const { error } = JSON.parse(first?.type === "text" ? first.text : "{}") as {
    error: { code: string; message: string };
  };
  return { ok: false, code: error.code, message: error.message };
}

/** A raw HTTP request to the server, for what SDK clients never send. */
export async function raw(
  url: string,
  path: string,
  init: RequestInit & { headers?: Record<string, string> },
): Promise<{
  status: number;
  headers: Headers;
  body: { error?: { code: number; message: string; data?: { code: string } } };
}> {
  const response = await fetch(new URL(path, url), init);
  const text = await response.text();
  let body = {};
  try {
    body = JSON.parse(text) as object;
  } catch {
    // An SSE or empty body: the status says enough.
  }
  return { status: response.status, headers: response.headers, body };
}

export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "raw", version: "0" },
  },
};

export const MCP_ACCEPT = "application/json, text/event-stream";

/** A JSON-RPC answer as raw requests read it: from a JSON body or an SSE stream's events. */
export interface RpcExchange {
  status: number;
  headers: Headers;
  /** Every JSON-RPC message in the answer. */
  messages: { id?: unknown; result?: Record<string, unknown>; error?: RpcError }[];
  /** The refusal's JSON-RPC error, when the server refused the request itself. */
  error: RpcError | undefined;
}

interface RpcError {
  code: number;
  message: string;
  data?: { code?: string };
}

/** POSTs raw JSON-RPC (one message or a batch) to `path` and collects what comes back. */
export async function rpc(
  url: string,
  path: string,
  key: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RpcExchange> {
  const response = await fetch(new URL(path, url), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: MCP_ACCEPT,
      Authorization: `Bearer ${key}`,
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  const payloads = type.startsWith("text/event-stream")
    ? text
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim())
        .filter((data) => data.length > 0)
    : text.length > 0
      ? [text]
      : [];
  const messages = payloads.flatMap((payload) => {
    try {
      const parsed = JSON.parse(payload) as
        | RpcExchange["messages"][number]
        | RpcExchange["messages"];
      return Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return [];
    }
  });
  const refusal = messages.find((m) => m.id === null || m.id === undefined)?.error;
  return { status: response.status, headers: response.headers, messages, error: refusal };
}

/** A Streamable HTTP session opened by hand: its id and a raw POST into it. */
export async function rawSession(
  url: string,
  key: string,
  protocolVersion = "2025-06-18",
): Promise<{ id: string; post(body: unknown): Promise<RpcExchange> }> {
  const opened = await rpc(url, "/mcp", key, {
    ...INITIALIZE,
    params: { ...INITIALIZE.params, protocolVersion },
  });
  const id = opened.headers.get("mcp-session-id");
  if (opened.status !== 200 || !id) throw new Error(`initialize failed: ${opened.status}`);
  const headers = { "Mcp-Session-Id": id, "MCP-Protocol-Version": protocolVersion };
  await rpc(url, "/mcp", key, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
  return { id, post: (body) => rpc(url, "/mcp", key, body, headers) };
}
