import { performance } from "node:perf_hooks";
import Stripe from "stripe";
import { neverReachedStripe } from "./errors.js";

/**
 * stripe-node retries a write, with the same idempotency key, after an answer that leaves
 * open whether Stripe applied it (a 5xx, a reset, a timeout), and reports only the last
 * attempt. If that last one is a refusal made before Stripe looks at a request (a rate
 * limit, a refused connection), it hides that an earlier attempt may have moved the
 * money. This HTTP client sits under the SDK and remembers, per idempotency key, that some
 * attempt may have been applied.
 */

/** Only writes that met such a fault are remembered; the bound just keeps it finite. */
const REMEMBERED_KEYS = 10_000;

/** A write being run: whether any request carrying its key started while it ran. */
interface Watch {
  key: string;
  sent: boolean;
}

class AttemptLog {
  private readonly keys = new Set<string>();
  private readonly watches = new Set<Watch>();

  watch(key: string): Watch {
    const watch = { key, sent: false };
    this.watches.add(watch);
    return watch;
  }

  unwatch(watch: Watch): void {
    this.watches.delete(watch);
  }

  /** A request with this key is about to leave: bytes may reach Stripe from here on. */
  sending(key: string): void {
    for (const watch of this.watches) if (watch.key === key) watch.sent = true;
  }

  note(key: string): void {
    if (this.keys.size >= REMEMBERED_KEYS) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    this.keys.add(key);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }
}

const logs = new WeakMap<Stripe, AttemptLog>();

/** Told of each HTTP request: how long it took and its status (`null` when none came). */
export type RequestObserver = (durationMs: number, status: number | null) => void;

/** Builds a Stripe client on an HTTP client that records which writes may have been applied. */
export function recordingAttempts(
  observe: RequestObserver | undefined,
  build: (httpClient: Stripe.HttpClient) => Stripe,
): Stripe {
  const log = new AttemptLog();
  const stripe = build(recordingHttpClient(Stripe.createNodeHttpClient(), log, observe));
  logs.set(stripe, log);
  return stripe;
}

function recordingHttpClient(
  inner: Stripe.HttpClient,
  log: AttemptLog,
  observe: RequestObserver | undefined,
): Stripe.HttpClient {
  return {
    getClientName: () => inner.getClientName(),
    async makeRequest(host, port, path, method, headers, body, protocol, timeout) {
      const key = idempotencyKeyOf(headers);
      if (key) log.sending(key);
      const started = performance.now();
      try {
        const response = await inner.makeRequest(
          host,
          port,
          path,
          method,
          headers,
          body,
          protocol,
          timeout,
        );
        if (key && response.getStatusCode() >= 500) log.note(key);
        observe?.(performance.now() - started, response.getStatusCode());
        return response;
      } catch (err) {
        if (key && !neverReachedStripe(err)) log.note(key);
        observe?.(performance.now() - started, null);
        throw err;
      }
    },
  };
}

/**
 * Watches the requests carrying `idempotencyKey` from now until `stop()`. `nothingSent()`
 * is true only when none started, on a client built here: an error raised before any
 * byte left for Stripe means the write was not sent. On any other client it cannot be
 * known, and it is false.
 */
export function watchSending(
  stripe: Stripe,
  idempotencyKey: string,
): { nothingSent(): boolean; stop(): void } {
  const log = logs.get(stripe);
  const watch = log?.watch(idempotencyKey);
  return {
    nothingSent: () => watch !== undefined && !watch.sent,
    stop: () => {
      if (watch) log?.unwatch(watch);
    },
  };
}

/** Whether some attempt of the write with this key may have been applied by Stripe. */
export function mayHaveBeenApplied(stripe: Stripe, idempotencyKey: string): boolean {
  return logs.get(stripe)?.has(idempotencyKey) ?? false;
}

function idempotencyKeyOf(headers: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "idempotency-key" && typeof value === "string") return value;
  }
  return undefined;
}
