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

class AttemptLog {
  private readonly keys = new Set<string>();

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

/** Builds a Stripe client on an HTTP client that records which writes may have been applied. */
export function recordingAttempts(build: (httpClient: Stripe.HttpClient) => Stripe): Stripe {
  const log = new AttemptLog();
  const stripe = build(recordingHttpClient(Stripe.createNodeHttpClient(), log));
  logs.set(stripe, log);
  return stripe;
}

function recordingHttpClient(inner: Stripe.HttpClient, log: AttemptLog): Stripe.HttpClient {
  return {
    getClientName: () => inner.getClientName(),
    async makeRequest(host, port, path, method, headers, body, protocol, timeout) {
      const key = idempotencyKeyOf(headers);
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
        return response;
      } catch (err) {
        if (key && !neverReachedStripe(err)) log.note(key);
        throw err;
      }
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
