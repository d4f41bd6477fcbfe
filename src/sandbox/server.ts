import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { handleApiRequest, type SandboxRequest, type SandboxState } from "./api.js";
import { grantsOf, type SandboxKey } from "./auth.js";
import { CONTROL_PREFIX, handleControlRequest } from "./control.js";
import { type FaultController, FaultList } from "./faults.js";
import { ADMIN_KEY, type DemoRole, ROLE_KEYS } from "./keys.js";
import type { Grants } from "./permissions.js";
import { openState } from "./saved-state.js";
import type { SeedName } from "./seed.js";
import { lockStateFile, StateInUseError } from "./state-file.js";

export interface SandboxOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default `demo`. */
  seed?: SeedName;
  /** Keys accepted besides the demo ones (a key listed here replaces a demo key of the same text). */
  keys?: SandboxKey[];
  /**
   * The time source, in milliseconds since the epoch; default Date.now. The sandbox's clock
   * is this plus what it has been moved forward (`advanceClock`, `POST /_sandbox/clock`); it
   * drives `created`, idempotency-key expiry and the request log.
   */
  clock?: () => number;
  /**
   * Keeps the state (objects, idempotency keys, the clock's offset) in this JSON file:
   * loaded at start when it exists (the seed is then not used), written after every
   * change, before the answer leaves. One running sandbox per file. Default: in memory.
   */
  stateFile?: string;
  /**
   * How long to wait for another sandbox to let go of `stateFile` (a server restarting
   * while its predecessor is still closing) before refusing with StateInUseError. Default 0.
   */
  stateLockWaitMs?: number;
}

export interface Sandbox {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  port: number;
  /** The demo keys, present whatever the seed. */
  keys: { admin: string; roles: Record<DemoRole, string> };
  faults: FaultController;
  /** Every request received, faulted ones included, in arrival order (control requests excepted). */
  requests: ReadonlyArray<SandboxRequest>;
  /** The sandbox's now, in milliseconds since the epoch. */
  now(): number;
  /** Moves the sandbox's clock `ms` forward (at most 366 days at once); returns the new now. */
  advanceClock(ms: number): number;
  /** Sets the sandbox's clock to `ms` since the epoch, never earlier than now; returns it. */
  setClock(ms: number): number;
  /** Where the state is kept; undefined when in memory. */
  stateFile: string | undefined;
  /** True when the state was read back from `stateFile` rather than seeded. */
  restored: boolean;
  /** Stops listening and closes every connection, hanging requests included. */
  close(): Promise<void>;
}

/** Starts a Stripe sandbox on Node's http server; resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const file = options.stateFile;
  const release =
    file === undefined ? () => {} : await lockWithin(file, options.stateLockWaitMs ?? 0);
  try {
    return await listen(options, release);
  } catch (error) {
    release();
    throw error;
  }
}

async function lockWithin(file: string, waitMs: number): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return lockStateFile(file);
    } catch (error) {
      if (!(error instanceof StateInUseError) || Date.now() >= deadline) throw error;
      await sleep(100);
    }
  }
}

/** Everything after the lock: the state, the server, the handle. */
async function listen(options: SandboxOptions, release: () => void): Promise<Sandbox> {
  const { store, ledger, clock, save, catchUp, restored } = openState(options);

  const keys = new Map<string, Grants>([
    [ADMIN_KEY, "all"],
    ...Object.values(ROLE_KEYS).map(({ key, permissions }) => [key, permissions] as const),
    ...(options.keys ?? []).map((k) => [k.key, grantsOf(k)] as const),
  ]);
  const shutdown = new AbortController();
  const faults = new FaultList();
  const state: SandboxState = {
    store,
    keys,
    ledger,
    faults,
    log: [],
    clock,
    save,
    catchUp,
    shutdown: shutdown.signal,
  };

  const server = createServer((req, res) => {
    const handle = req.url?.startsWith(CONTROL_PREFIX) ? handleControlRequest : handleApiRequest;
    handle(state, req, res).catch((error: unknown) => {
      console.error("spendguard sandbox: request failed", error);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end();
    });
  });
  // A client that vanishes mid-request must not take the server down with it.
  server.on("clientError", (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    keys: {
      admin: ADMIN_KEY,
      roles: Object.fromEntries(
        Object.entries(ROLE_KEYS).map(([role, { key }]) => [role, key]),
      ) as Record<DemoRole, string>,
    },
    faults,
    requests: state.log,
    now: () => clock.now(),
    advanceClock: (ms) => {
      const now = clock.advance(ms);
      save();
      return now;
    },
    setClock: (ms) => {
      const now = clock.set(ms);
      save();
      return now;
    },
    stateFile: options.stateFile,
    restored,
    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => {
          release();
          resolve();
        });
        // Hanging requests and idle keep-alive sockets would otherwise hold close() forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
