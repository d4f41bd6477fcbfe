import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { AnyTool } from "../../tools/tool.js";
import { redactSecrets } from "../audit/redact.js";
import { Guard, type GuardOptions } from "../guard/guard.js";
import { endSession, startSession } from "../guard/sessions.js";
import type { Logger } from "../logger.js";
import { createOperatorServer, newOperatorSessionId } from "../operator/server.js";
import { loadPolicy } from "../policy/load.js";
import { createServer } from "../server.js";
import type { ApiKeyRecord, Store } from "../store/store.js";
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
  end(reason: string): void;
}

/** Why a session could not be opened; the details are logged, not told to the client. */
export class SessionOpenError extends Error {
  override name = "SessionOpenError";
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
  /** Per agent, once per process: unknown outcomes are settled before it spends again. */
  private readonly reconciled = new Map<string, Promise<void>>();

  constructor(private readonly options: SessionOpenerOptions) {}

  async open(key: ApiKeyRecord): Promise<McpSession> {
    return key.kind === "operator" ? this.openOperator(key) : this.openAgent(key);
  }

  /** Resolves true once no tool call is under way, or false after `timeoutMs`. */
  settled(timeoutMs: number): Promise<boolean> {
    return this.calls.idle(timeoutMs);
  }

  get callsUnderWay(): number {
    return this.calls.size;
  }

  private async openAgent(key: ApiKeyRecord): Promise<McpSession> {
    const { store, home, upstream, tools, readOnly, logger, afterCall } = this.options;
    let guard: TrackedGuard;
    let sessionId: string;
    try {
      // Read again at every session: an edited policy applies to sessions opened after.
      const policy = loadPolicy(key.policy_file ?? "", tools);
      const stripe = upstream.clientFor(policy);
      const session = startSession(store, { policy, agent: key.name });
      sessionId = session.id;
      store.recordSessionKey(session.id, key.id);
      guard = new TrackedGuard(
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
    return {
      id: sessionId,
      server: createServer(guard),
      end(reason) {
        if (endSession(store, sessionId, reason)) {
          logger.info({ session: sessionId, reason }, "agent session ended");
        }
      },
    };
  }

  private openOperator(key: ApiKeyRecord): McpSession {
    const { store, home, logger } = this.options;
    const id = newOperatorSessionId();
    store.recordSessionKey(id, key.id);
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
      end(reason) {
        logger.info({ session: id, reason }, "operator session ended");
      },
    };
  }

  private reconcileOnce(agent: string, guard: Guard): Promise<void> {
    let done = this.reconciled.get(agent);
    if (!done) {
      const { logger } = this.options;
      done = guard.reconcile().then(
        (reconciled) => logger.info({ agent, reconciled }, "reconciliation done"),
        (err: unknown) =>
          logger.error({ agent, err: redactSecrets(String(err)) }, "reconciliation failed"),
      );
      this.reconciled.set(agent, done);
    }
    return done;
  }
}

/** A guard whose calls are counted while they run. */
class TrackedGuard extends Guard {
  constructor(
    options: GuardOptions,
    private readonly calls: InFlightCalls,
  ) {
    super(options);
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
