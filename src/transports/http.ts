import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { NodeStreamableHTTPServerTransport, toNodeHandler } from "@modelcontextprotocol/node";
import {
  type AuthInfo,
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type Server,
} from "@modelcontextprotocol/server";
import { redactSecrets } from "../audit/redact.js";
import { SpendguardError } from "../errors.js";
import type { KeyCheck } from "../keys/api-keys.js";
import type { Logger } from "../logger.js";
import type { ApiKeyRecord } from "../store/store.js";
import { bearerChallenge, type ChallengeParams, KEY_MESSAGES } from "./http-auth.js";
import { listenGuarded } from "./http-listen.js";
import { isLoopback, type OriginCheck } from "./http-origin.js";
import { bearerToken, readJsonBody, refuse } from "./http-request.js";
import { type McpSession, SessionOpenError } from "./mcp-sessions.js";
import { RateLimiter } from "./rate-limit.js";
import { SseServerTransport } from "./sse.js";

/**
 * HTTP: Streamable HTTP on `/mcp` (sessions named by `Mcp-Session-Id`) and the legacy
 * HTTP+SSE transport on `/sse` + `/messages` for older clients, on one port. Each MCP
 * session is one session of `openSession` — a new server and transport — bound to the key
 * that opened it. The key is checked on every request, so a revoked or expired key stops
 * working mid-session. Requests are refused before any session sees them when they name
 * another host or come from a foreign web page, carry no valid key, exceed the key's rate
 * or the body limit, or are not JSON.
 */

export interface HttpOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  /** A session with no request for this long is ended. */
  idleTimeoutMs: number;
  /** The same for a session that has made no tool call yet (a spare or abandoned one). */
  emptyIdleTimeoutMs: number;
  /** Requests per second per key (bursts of twice as many). */
  rateLimit: number;
  /** Checks a request's bearer token (an agent or operator key, or an OAuth access token). */
  checkKey(token: string | undefined): Promise<KeyCheck>;
  /**
   * What the `WWW-Authenticate` challenge of a 401 on a path names besides the error: the
   * authorization server's protected resource metadata (RFC 9728 §5.1) and scope.
   */
  challenge?(pathname: string): ChallengeParams;
  /** Whether a key that opened a session may still be used (not revoked, not expired). */
  keyUsable(keyId: string): Promise<boolean>;
  openSession(key: ApiKeyRecord): Promise<McpSession>;
  /** 2026-07-28 (no transport session): the server for one request of `key`. */
  modernServer(key: ApiKeyRecord, toolCall: boolean): Promise<Server>;
  /** Ends the key sessions of 2026-07-28 quiet for longer than the idle timeouts. */
  sweepModern(now: number): Promise<void>;
  /** Ends the 2026-07-28 session of one key, or of every key. */
  endModern(keyId: string | undefined, reason: string): Promise<void>;
  /** At shutdown: resolves true once no tool call is under way, false after `timeoutMs`. */
  settled(timeoutMs: number): Promise<boolean>;
  logger: Logger;
  /**
   * Other endpoints on the same port (the operator console), asked in order after the
   * Host and Origin checks and before the MCP endpoints: each answers and resolves true,
   * or resolves false to pass.
   */
  routes?: readonly HttpRoute[];
}

export type HttpRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpService {
  /** e.g. `http://127.0.0.1:3000` */
  url: string;
  port: number;
  /** Graceful: stops accepting, lets tool calls under way finish (bounded), ends every session. */
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 1024 * 1024;
/** How long a shutdown waits for tool calls under way to settle their reservations. */
const SHUTDOWN_GRACE_MS = 10_000;

/** The first protocol revision without JSON-RPC batches. */
const NO_BATCHES_FROM = "2025-06-18";

type LiveTransport =
  | { kind: "streamable"; transport: NodeStreamableHTTPServerTransport }
  | { kind: "sse"; transport: SseServerTransport };

interface LiveSession {
  /** What the wire names it: `Mcp-Session-Id`, or the SSE transport's `sessionId`. */
  wireId: string;
  keyId: string;
  session: McpSession;
  wire: LiveTransport;
  /** The revision the client asked for at initialize (negotiated down by the SDK). */
  protocolVersion: string | undefined;
  /** Whether a tools/call has come through: sessions that never call idle out sooner. */
  calledTool: boolean;
  lastSeen: number;
}

export async function serveHttp(options: HttpOptions): Promise<HttpService> {
  const { logger } = options;
  const live = new Map<string, LiveSession>();
  const limiter = new RateLimiter(options.rateLimit, options.rateLimit * 2);
  let checkOrigin: ((req: IncomingMessage) => OriginCheck) | undefined;
  let stopping = false;
  /** POSTs not yet answered: a Streamable HTTP tool call's answer is its POST's response. */
  const unanswered = new Set<ServerResponse>();

  /** Ends a session once, whatever asked first (DELETE, disconnect, idle, revoked key, shutdown). */
  const retire = async (entry: LiveSession, reason: string): Promise<void> => {
    if (live.get(entry.wireId) !== entry) return;
    live.delete(entry.wireId);
    entry.session.server.close().catch(() => undefined);
    try {
      await entry.session.end(reason);
    } catch (err) {
      logger.error(
        { err: redactSecrets(String(err)), session: entry.session.id },
        "could not record the end of a session",
      );
    }
  };
  const retireKey = (keyId: string, reason: string) => {
    for (const entry of [...live.values()]) if (entry.keyId === keyId) void retire(entry, reason);
    void options.endModern(keyId, reason);
  };

  // 2026-07-28: per request, no transport session; the SDK's entry checks the revision's
  // headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name) against the body and answers
  // server/discover. 2025 requests never reach it: they are routed to their sessions.
  const modern = toNodeHandler(
    createMcpHandler(
      ({ authInfo }) => {
        // Every request reaching here passed the key check, which set the caller.
        const caller = authInfo?.extra as unknown as ModernCaller;
        return options.modernServer(caller.key, caller.toolCall);
      },
      {
        legacy: "reject",
        maxRequestBodySize: MAX_BODY_BYTES,
        onerror: (err) => logger.debug({ err: redactSecrets(String(err)) }, "2026-07-28 request"),
      },
    ),
    { maxRequestBodySize: MAX_BODY_BYTES },
  );
  const serveModern = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: ApiKeyRecord,
    body: unknown,
  ) => {
    if (Array.isArray(body)) {
      refuse(res, 400, "batch_not_supported", batchRefusal("2026-07-28"));
      return;
    }
    const caller: ModernCaller = {
      key,
      toolCall: messagesOf(body).some((m) => m.method === "tools/call"),
    };
    const auth: AuthInfo = {
      token: key.id,
      clientId: key.id,
      scopes: [],
      extra: caller as unknown as Record<string, unknown>,
    };
    await modern(Object.assign(req, { auth }), res, body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "POST") {
      unanswered.add(res);
      res.on("close", () => unanswered.delete(res));
    }
    if (stopping) {
      refuse(res, 503, "shutting_down", "The server is shutting down.", { Connection: "close" });
      return;
    }
    const origin = checkOrigin?.(req);
    if (!origin?.ok) {
      refuse(res, 403, origin?.code ?? "host_not_allowed", origin?.message ?? "Not ready.");
      return;
    }
    const url = new URL(req.url ?? "/", "http://spendguard.invalid");
    for (const route of options.routes ?? []) if (await route(req, res, url)) return;
    const route = ROUTES[url.pathname];
    if (!route) {
      refuse(
        res,
        404,
        "not_found",
        `No such endpoint: ${url.pathname} (use /mcp, or /sse for older clients).`,
      );
      return;
    }
    if (!route.includes(req.method ?? "")) {
      refuse(res, 405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}.`, {
        Allow: route.join(", "),
      });
      return;
    }
    const check = await options.checkKey(bearerToken(req));
    if (!check.ok) {
      // A key that stopped working ends the sessions it opened, not just this request.
      if (check.key) retireKey(check.key.id, check.refusal.replace("_", " "));
      refuse(res, 401, check.refusal, KEY_MESSAGES[check.refusal], {
        "WWW-Authenticate": bearerChallenge(check.refusal, options.challenge?.(url.pathname)),
      });
      return;
    }
    const key = check.key;
    const rate = limiter.take(key.id);
    if (!rate.allowed) {
      refuse(
        res,
        429,
        "rate_limited",
        `Too many requests for this key; retry in ${rate.retryAfterSeconds} s.`,
        {
          "Retry-After": String(rate.retryAfterSeconds),
        },
      );
      return;
    }
    let body: unknown;
    if (req.method === "POST") {
      const read = await readJsonBody(req, MAX_BODY_BYTES);
      if (!read.ok) {
        refuse(
          res,
          read.status,
          read.code,
          read.message,
          read.status === 413 ? { Connection: "close" } : {},
        );
        return;
      }
      body = read.body;
      // Each message counts against the rate, however many one POST carries.
      const extra = Array.isArray(body) ? body.length - 1 : 0;
      const more = extra > 0 ? limiter.take(key.id, extra) : { allowed: true as const };
      if (!more.allowed) {
        refuse(
          res,
          429,
          "rate_limited",
          `Too many messages for this key (this batch holds ${extra + 1}); retry in ${more.retryAfterSeconds} s.`,
          { "Retry-After": String(more.retryAfterSeconds) },
        );
        return;
      }
    }
    if (url.pathname === "/mcp") await streamable(req, res, key, body);
    else if (url.pathname === "/sse") await openSse(res, key);
    else await sseMessage(req, res, key, url, body);
  };

  /**
   * The session a request names, if it is the requesting key's and of this endpoint's
   * transport; refuses the request otherwise. Also refuses a batch where the session's
   * revision has none, and notes a tool call.
   */
  const sessionFor = (
    req: IncomingMessage,
    res: ServerResponse,
    wireId: string,
    key: ApiKeyRecord,
    kind: LiveTransport["kind"],
    body: unknown,
  ): LiveSession | undefined => {
    const entry = live.get(wireId);
    if (entry && entry.wire.kind !== kind) {
      refuse(
        res,
        404,
        "session_wrong_transport",
        kind === "streamable"
          ? "This is an HTTP+SSE session id: send its messages to /messages?sessionId=…, or open a Streamable HTTP session on /mcp."
          : "This is a Streamable HTTP session id: send it as Mcp-Session-Id to /mcp, or open an SSE session on /sse.",
      );
      return undefined;
    }
    if (!entry) {
      refuse(
        res,
        404,
        "session_not_found",
        "Session not found: it ended or never existed; start a new one.",
      );
      return undefined;
    }
    if (entry.keyId !== key.id) {
      logger.warn(
        { session: entry.session.id, keyId: key.id },
        "a request named a session another key opened",
      );
      refuse(res, 403, "session_key_mismatch", "This session was opened with another key.");
      return undefined;
    }
    entry.lastSeen = Date.now();
    const version = headerVersion(req) ?? entry.protocolVersion;
    if (Array.isArray(body) && !batchesAllowed(version)) {
      refuse(res, 400, "batch_not_supported", batchRefusal(version));
      return undefined;
    }
    entry.protocolVersion ??= initializeVersion(body);
    if (messagesOf(body).some((m) => m.method === "tools/call")) entry.calledTool = true;
    return entry;
  };

  const open = async (res: ServerResponse, key: ApiKeyRecord): Promise<McpSession | undefined> => {
    try {
      return await options.openSession(key);
    } catch (err) {
      if (!(err instanceof SessionOpenError)) throw err;
      refuse(res, err.code === "session_limit" ? 429 : 500, err.code, err.message);
      return undefined;
    }
  };

  const streamable = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: ApiKeyRecord,
    body: unknown,
  ) => {
    const wireId = req.headers["mcp-session-id"];
    // A 2026-07-28 request is served per request; an Mcp-Session-Id on it is ignored.
    if (req.method === "POST" && (await isModern(req, body))) {
      await serveModern(req, res, key, body);
      return;
    }
    if (typeof wireId === "string") {
      const entry = sessionFor(req, res, wireId, key, "streamable", body);
      if (entry?.wire.kind === "streamable")
        await entry.wire.transport.handleRequest(req, res, body);
      return;
    }
    const opening = messagesOf(body);
    if (Array.isArray(body) && !batchesAllowed(initializeVersion(body))) {
      refuse(res, 400, "batch_not_supported", batchRefusal(initializeVersion(body)));
      return;
    }
    if (req.method !== "POST" || !opening.some((m) => isInitializeRequest(m))) {
      refuse(
        res,
        400,
        "missing_session",
        "No Mcp-Session-Id header: only an initialize request may open a session.",
      );
      return;
    }
    const session = await open(res, key);
    if (!session) return;
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => session.id,
      onsessioninitialized: (id) => {
        const entry: LiveSession = {
          wireId: id,
          keyId: key.id,
          session,
          wire: { kind: "streamable", transport },
          protocolVersion: initializeVersion(body),
          calledTool: false,
          lastSeen: Date.now(),
        };
        live.set(id, entry);
        session.server.onclose = () => void retire(entry, "the client closed the session");
      },
      onsessionclosed: (id) => {
        const entry = live.get(id);
        if (entry) void retire(entry, "the client closed the session (DELETE)");
      },
    });
    await session.server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!live.has(session.id)) {
      // The initialize request was refused by the transport: nothing to keep.
      await session.end("initialization failed");
      await session.server.close();
    }
  };

  const openSse = async (res: ServerResponse, key: ApiKeyRecord) => {
    const session = await open(res, key);
    if (!session) return;
    const transport = new SseServerTransport("/messages", res);
    const entry: LiveSession = {
      wireId: transport.sessionId,
      keyId: key.id,
      session,
      wire: { kind: "sse", transport },
      protocolVersion: undefined,
      calledTool: false,
      lastSeen: Date.now(),
    };
    live.set(entry.wireId, entry);
    session.server.onclose = () => void retire(entry, "the client disconnected");
    await session.server.connect(transport);
  };

  const sseMessage = async (
    req: IncomingMessage,
    res: ServerResponse,
    key: ApiKeyRecord,
    url: URL,
    body: unknown,
  ) => {
    const wireId = url.searchParams.get("sessionId") ?? "";
    const entry = sessionFor(req, res, wireId, key, "sse", body);
    if (entry?.wire.kind === "sse") await entry.wire.transport.handlePostMessage(req, res, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: redactSecrets(String(err)), url: req.url }, "HTTP request failed");
      // The database being away is not our bug: say so, and that nothing was done.
      if (err instanceof SpendguardError && err.code === "store_unavailable") {
        refuse(res, 503, "store_unavailable", err.message, { "Retry-After": "5" });
      } else {
        refuse(res, 500, "session_open_failed", "Internal error.");
      }
    });
  });
  const bound = await listenGuarded(server, {
    host: options.host,
    port: options.port,
    allowedHosts: options.allowedHosts,
    allowedOrigins: options.allowedOrigins,
  });
  const { port } = bound;
  checkOrigin = bound.checkOrigin;

  const sweep = async () => {
    const now = Date.now();
    for (const entry of [...live.values()]) {
      const sooner = !entry.calledTool && options.emptyIdleTimeoutMs < options.idleTimeoutMs;
      const idleMs = sooner ? options.emptyIdleTimeoutMs : options.idleTimeoutMs;
      if (now - entry.lastSeen >= idleMs) {
        await retire(entry, sooner ? "idle timeout (no tool call)" : "idle timeout");
      } else if (!(await options.keyUsable(entry.keyId))) {
        await retire(entry, "agent key revoked or expired");
      }
    }
    await options.sweepModern(now);
    limiter.prune();
  };
  let sweeping = false;
  const sweeper = setInterval(
    () => {
      // One sweep at a time: a slow store must not pile them up.
      if (sweeping) return;
      sweeping = true;
      sweep()
        .catch((err: unknown) =>
          logger.error({ err: redactSecrets(String(err)) }, "session sweep failed"),
        )
        .finally(() => {
          sweeping = false;
        });
    },
    Math.max(100, Math.min(options.idleTimeoutMs / 4, options.emptyIdleTimeoutMs / 4, 30_000)),
  );
  sweeper.unref();

  const hostInUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${hostInUrl}:${port}`;
  if (!isLoopback(options.host)) {
    logger.warn(
      { host: options.host },
      "listening beyond loopback: anyone who can reach this address can try keys; put TLS in front",
    );
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopping = true;
      clearInterval(sweeper);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      const settled = await options.settled(SHUTDOWN_GRACE_MS);
      // Then their answers go out: POST responses, and on SSE streams once the server's
      // handler has run (a turn of the event loop).
      while (unanswered.size > 0 && Date.now() < deadline) await sleep(20);
      await sleep(0);
      if (!settled) {
        logger.warn("tool calls still under way at shutdown: the next start reconciles them");
      }
      const sessions = live.size;
      await Promise.all([
        ...[...live.values()].map((entry) => retire(entry, "server shut down")),
        options.endModern(undefined, "server shut down"),
      ]);
      server.closeAllConnections();
      await closed;
      logger.info({ sessions }, "HTTP server stopped");
    })();
    return closing;
  };

  return { url, port, close };
}

/** What a 2026-07-28 request's server is built for. */
interface ModernCaller {
  key: ApiKeyRecord;
  toolCall: boolean;
}

/**
 * Whether a POST speaks 2026-07-28 (its message carries the per-request `_meta`
 * envelope), by the SDK's own classification so the two never disagree.
 */
function isModern(req: IncomingMessage, body: unknown): Promise<boolean> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  const probe = new Request("http://spendguard.invalid/mcp", {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  return isLegacyRequest(probe).then((legacy) => !legacy);
}

/** The messages of a body: a batch's members, or the one message. */
function messagesOf(body: unknown): { method?: unknown; params?: unknown }[] {
  const all = Array.isArray(body) ? body : [body];
  return all.filter((m): m is { method?: unknown } => m !== null && typeof m === "object");
}

/** The revision an initialize message in the body asks for. */
function initializeVersion(body: unknown): string | undefined {
  for (const message of messagesOf(body)) {
    if (message.method !== "initialize") continue;
    const version = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    if (typeof version === "string") return version;
  }
  return undefined;
}

function headerVersion(req: IncomingMessage): string | undefined {
  const header = req.headers["mcp-protocol-version"];
  return typeof header === "string" ? header : undefined;
}

/** Batches exist up to 2025-03-26; a client naming no revision is taken to be on that one. */
function batchesAllowed(version: string | undefined): boolean {
  return version === undefined || version < NO_BATCHES_FROM;
}

function batchRefusal(version: string | undefined): string {
  return `Protocol revision ${version} has no JSON-RPC batches: send one message per request.`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Endpoints and the methods each accepts. */
const ROUTES: Record<string, readonly string[]> = {
  "/mcp": ["POST", "GET", "DELETE"],
  "/sse": ["GET"],
  "/messages": ["POST"],
};
