import { ProtocolError, ProtocolErrorCode, type Server } from "@modelcontextprotocol/server";
import type { AnyTool } from "../../tools/tool.js";
import { redactSecrets } from "../audit/redact.js";
import { SpendguardError } from "../errors.js";
import { Guard, type GuardOptions } from "../guard/guard.js";
import { endSession, startSession } from "../guard/sessions.js";
import { Takeover } from "../guard/takeover.js";
import type { Logger } from "../logger.js";
import { createOperatorServer, newOperatorSessionId } from "../operator/server.js";
import { loadPolicy } from "../policy/load.js";
import { RequestStateSealer } from "../request-state.js";
import { createServer, type GuardSession } from "../server.js";
import type { ApiKeyRecord, SessionRecord, Store } from "../store/store.js";
import type { Upstream } from "./upstream.js";

/**
 * Opens the MCP session a key asks for — an agent key a guard session under its policy,
 * an operator key an operator session — and keeps count of tool calls under way, so a
 * shutdown can let them settle their reservations first.
 */

export interface McpSession {
  /** The guard session (`ses_…`) or operator session (`ops_…`). */
  id: string;
  server: Server;
  /** Ends it for good (a guard session's row says `ended`; the audit keeps everything). */
  end(reason: string): Promise<void>;
}

/** Why a session could not be opened; the details are logged, not told to the client. */
export class SessionOpenError extends Error {
  override name = "SessionOpenError";
  constructor(
    message: string,
    /** `session_limit`: the agent has opened its `sessions_per_day`. */
    readonly code: "session_open_failed" | "session_limit" = "session_open_failed",
  ) {
    super(message);
  }
}

/** A key's guard session on 2026-07-28, which has no transport session to hold it. */
interface KeySession {
  session: GuardSession;
  keyId: string;
  /** The last request that used it. */
  lastSeen: number;
  calledTool: boolean;
}

export interface SessionOpenerOptions {
  store: Store;
  home: string;
  upstream: Upstream;
  tools: readonly AnyTool[];
  /** `serve --read-only`: agents see and may call read tools only. */
  readOnly: boolean;
  logger: Logger;
  /** The guards' `afterCall` (alert rules). */
  afterCall?: () => Promise<void>;
}

export class SessionOpener {
  private readonly calls = new InFlightCalls();
  /**
   * Per agent, once per process: unknown outcomes are settled before it spends again (and
   * writes another process has in flight are looked at again while it has them).
   */
  private readonly reconciled = new Map<string, Takeover>();
  /** Per agent key: its current 2026-07-28 guard session. */
  private readonly keySessions = new Map<string, KeySession>();
  /** One key per process: a `requestState` sealed here opens only here. */
  readonly sealer = new RequestStateSealer();

  constructor(private readonly options: SessionOpenerOptions) {}

  /** A 2025-era MCP session (Streamable HTTP or SSE): its own guard session. */
  async open(key: ApiKeyRecord): Promise<McpSession> {
    if (key.kind === "operator") return await this.openOperator(key);
    const opened = await this.openAgent(key);
    return {
      id: opened.sessionId,
      server: createServer({ session: async () => opened, sealer: this.sealer }),
      end: (reason) => this.endAgent(opened.sessionId, reason),
    };
  }

  /**
   * The server for one 2026-07-28 request of `key`. An agent key's requests share one
   * guard session, minted by spendguard on the key's first tools/list or tools/call and
   * kept while the key keeps using it: its caps, kills and approvals hold across requests
   * as they do in a 2025 session. A killed session stays the key's (every call is refused
   * `session_killed`) until the key has been quiet for the idle timeout; an ended or
   * expired one is replaced on the next request. Each new one counts against the policy's
   * `sessions_per_day`.
   */
  async modernServer(key: ApiKeyRecord, toolCall: boolean): Promise<Server> {
    if (key.kind === "operator") {
      return (await this.openOperator(key)).server;
    }
    return createServer({
      session: () =>
        this.keySession(key, toolCall).catch((err: unknown) => {
          // Told to the client as a JSON-RPC error with the same stable code as over 2025.
          if (!(err instanceof SessionOpenError)) throw err;
          throw new ProtocolError(ProtocolErrorCode.InternalError, err.message, { code: err.code });
        }),
      sealer: this.sealer,
    });
  }

  /** Ends the 2026-07-28 key sessions quiet for longer than their idle timeout. */
  async sweep(now: number, idleTimeoutMs: number, emptyIdleTimeoutMs: number): Promise<void> {
    for (const entry of [...this.keySessions.values()]) {
      const idleMs = entry.calledTool ? idleTimeoutMs : Math.min(idleTimeoutMs, emptyIdleTimeoutMs);
      if (now - entry.lastSeen >= idleMs) await this.retireKeySession(entry, "idle timeout");
    }
  }

  /** Ends a key's 2026-07-28 session (revoked key, shutdown). */
  async endKeySessions(keyId: string | undefined, reason: string): Promise<void> {
    for (const entry of [...this.keySessions.values()]) {
      if (keyId === undefined || entry.keyId === keyId) await this.retireKeySession(entry, reason);
    }
  }

  private async keySession(key: ApiKeyRecord, toolCall: boolean): Promise<GuardSession> {
    const current = this.keySessions.get(key.id);
    const state = current
      ? (await this.options.store.getSession(current.session.sessionId))?.state
      : undefined;
    if (current && (state === "active" || state === "killed") && !(await this.expired(current))) {
      current.lastSeen = Date.now();
      current.calledTool ||= toolCall;
      return current.session;
    }
    if (current) await this.retireKeySession(current, "replaced: the session had ended");
    const session = await this.openAgent(key);
    this.keySessions.set(key.id, {
      session,
      keyId: key.id,
      lastSeen: Date.now(),
      calledTool: toolCall,
    });
    return session;
  }

  private async expired(entry: KeySession): Promise<boolean> {
    const record = await this.options.store.getSession(entry.session.sessionId);
    return record?.expires_at != null && Date.now() >= record.expires_at;
  }

  private async retireKeySession(entry: KeySession, reason: string): Promise<void> {
    if (this.keySessions.get(entry.keyId) !== entry) return;
    this.keySessions.delete(entry.keyId);
    await this.endAgent(entry.session.sessionId, reason);
  }

  private async endAgent(sessionId: string, reason: string): Promise<void> {
    if (await endSession(this.options.store, sessionId, reason)) {
      this.options.logger.info({ session: sessionId, reason }, "agent session ended");
    }
  }

  /** Resolves true once no tool call is under way, or false after `timeoutMs`. */
  settled(timeoutMs: number): Promise<boolean> {
    return this.calls.idle(timeoutMs);
  }

  get callsUnderWay(): number {
    return this.calls.size;
  }

  private async openAgent(key: ApiKeyRecord): Promise<GuardSession> {
    const { store, home, upstream, tools, readOnly, logger, afterCall } = this.options;
    let guard: TrackedGuard;
    let sessionId: string;
    try {
      // Read again at every session: an edited policy applies to sessions opened after.
      const policy = loadPolicy(key.policy_file ?? "", tools);
      const stripe = upstream.clientFor(policy);
      const session = await startSession(store, { policy, agent: key.name });
      sessionId = session.id;
      await store.recordSessionKey(session.id, key.id);
      guard = await TrackedGuard.openTracked(
        {
          policy,
          store,
          sessionId,
          stripe,
          home,
          tools,
          transport: "http",
          readOnly,
          logger,
          ...(afterCall ? { afterCall } : {}),
        },
        this.calls,
      );
      logger.info(
        {
          session: session.id,
          agent: key.name,
          keyId: key.id,
          policy: policy.name,
          tools: guard.listTools().map((t) => t.name),
        },
        "agent session opened",
      );
    } catch (err) {
      if (err instanceof SpendguardError && err.code === "session_limit") {
        logger.warn({ keyId: key.id, agent: key.name }, "session limit reached");
        throw new SessionOpenError(`${err.message} ${err.hint ?? ""}`.trim(), "session_limit");
      }
      logger.error(
        {
          keyId: key.id,
          agent: key.name,
          policyFile: key.policy_file,
          err: redactSecrets(String(err)),
        },
        "cannot open a session for this key",
      );
      throw new SessionOpenError(
        "This key's policy cannot be used right now, so no session was opened; the operator can see why in the server log.",
      );
    }
    await this.reconcileOnce(key.name, guard);
    return { guard, sessionId, keyId: key.id };
  }

  private async openOperator(key: ApiKeyRecord): Promise<McpSession> {
    const { store, home, logger } = this.options;
    const id = newOperatorSessionId();
    await store.recordSessionKey(id, key.id);
    logger.info({ session: id, operator: key.name, keyId: key.id }, "operator session opened");
    return {
      id,
      server: createOperatorServer({
        store,
        home,
        sessionId: id,
        operator: `operator:${key.name}`,
        logger,
      }),
      async end(reason) {
        logger.info({ session: id, reason }, "operator session ended");
      },
    };
  }

  private reconcileOnce(agent: string, guard: Guard): Promise<void> {
    let takeover = this.reconciled.get(agent);
    if (!takeover) {
      takeover = new Takeover(agent, () => guard.reconcile(), this.options.logger);
      this.reconciled.set(agent, takeover);
    }
    return takeover.firstPass;
  }

  /** Stops looking again at writes other processes have in flight (at shutdown). */
  stopTakeovers(): void {
    for (const takeover of this.reconciled.values()) takeover.stop();
  }
}

/** A guard whose calls are counted while they run. */
class TrackedGuard extends Guard {
  static async openTracked(options: GuardOptions, calls: InFlightCalls): Promise<TrackedGuard> {
    return new TrackedGuard(options, await Guard.sessionFor(options), calls);
  }

  private constructor(
    options: GuardOptions,
    session: SessionRecord,
    private readonly calls: InFlightCalls,
  ) {
    super(options, session);
  }

  override call(...args: Parameters<Guard["call"]>) {
    return this.calls.track(super.call(...args));
  }
}

class InFlightCalls {
  private count = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  track<T>(call: Promise<T>): Promise<T> {
    this.count++;
    return call.finally(() => {
      this.count--;
      if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
    });
  }

  idle(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
