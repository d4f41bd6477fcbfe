import { performance } from "node:perf_hooks";
import { redactSecrets } from "../audit/redact.js";
import type { Logger } from "../logger.js";
import type { AlertDelivery, AttemptResult, Store } from "../store/store.js";
import { VERSION } from "../version.js";
import { type DeliverySchedule, displayUrl, type Sink } from "./config.js";
import { SIGNATURE_HEADER, signatureHeader } from "./signature.js";

/**
 * Sending what the outbox holds: each delivery is leased, POSTed, and its attempt
 * recorded; a failure is tried again later, each wait twice the one before, until the
 * schedule gives up. Several processes may run this on one store: the lease keeps them
 * from sending the same delivery at once, and a process that dies mid-send only delays
 * it (at least once, never lost).
 */

/** How long one POST may take. */
export const SEND_TIMEOUT_MS = 10_000;
/** A lease outlives the POST, so nobody else sends it meanwhile. */
const LEASE_MS = SEND_TIMEOUT_MS + 20_000;
/** Deliveries sent at once by one process. */
const BATCH = 10;
const MAX_ERROR = 300;

export interface SendResult {
  /** The HTTP status; `null` when no answer came. */
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** POSTs `body` to the sink (signed when it has a secret); never throws. */
export async function send(sink: Sink, body: string, now: number): Promise<SendResult> {
  const started = performance.now();
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": `spendguard/${VERSION}`,
  };
  if (sink.secret)
    headers[SIGNATURE_HEADER] = signatureHeader(body, sink.secret, Math.floor(now / 1000));
  try {
    const response = await fetch(sink.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    const text = await response.text().catch(() => "");
    const ok = response.status >= 200 && response.status < 300;
    return {
      status: response.status,
      error: ok ? null : bounded(`HTTP ${response.status}${text ? `: ${text}` : ""}`),
      durationMs: performance.now() - started,
    };
  } catch (err) {
    return {
      status: null,
      error: bounded(describeFailure(err)),
      durationMs: performance.now() - started,
    };
  }
}

/** Where a failed attempt leaves a delivery: retried after a doubling wait, or given up. */
export function afterFailure(
  delivery: Pick<AlertDelivery, "attempts" | "created_at">,
  now: number,
  schedule: DeliverySchedule,
): AttemptResult {
  const attempt = delivery.attempts + 1;
  const wait = Math.min(
    schedule.retryAfterMs * 2 ** Math.min(attempt - 1, 30),
    schedule.maxRetryAfterMs,
  );
  const next = now + wait;
  if (next - delivery.created_at > schedule.giveUpAfterMs)
    return { state: "failed", next_attempt_at: now };
  return { state: "pending", next_attempt_at: next };
}

export interface DeliveryWorkerOptions {
  store: Store;
  sinks: readonly Sink[];
  schedule: DeliverySchedule;
  clock: () => number;
  logger: Logger;
  /** A delivery was delivered or given up: for metrics and tests. */
  onAttempt?: (delivery: AlertDelivery, result: SendResult) => void;
}

export class DeliveryWorker {
  private readonly sinks: ReadonlyMap<string, Sink>;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.sinks = new Map(options.sinks.map((sink) => [sink.name, sink]));
  }

  /** Sends whatever is due now; a call while a round runs asks for one more round after it. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.round();
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    const { store, clock, logger } = this.options;
    for (;;) {
      let claimed: AlertDelivery[];
      try {
        claimed = await store.claimAlertDeliveries({
          sinks: [...this.sinks.keys()],
          now: clock(),
          leaseMs: LEASE_MS,
          limit: BATCH,
        });
      } catch (err) {
        logger.error({ err: redactSecrets(String(err)) }, "alerts: cannot read the outbox");
        return;
      }
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((delivery) => this.attempt(delivery)));
      if (claimed.length < BATCH) return;
    }
  }

  private async attempt(delivery: AlertDelivery): Promise<void> {
    const { store, clock, logger, schedule } = this.options;
    const sink = this.sinks.get(delivery.sink);
    if (!sink) return;
    const at = clock();
    const result = await send(sink, delivery.body, at);
    const delivered = result.error === null;
    const next: AttemptResult = delivered
      ? { state: "delivered", next_attempt_at: at }
      : afterFailure(delivery, clock(), schedule);
    try {
      await store.recordAlertAttempt(
        {
          delivery: delivery.id,
          at,
          status: result.status,
          error: result.error,
          duration_ms: Math.round(result.durationMs * 1000) / 1000,
        },
        next,
      );
    } catch (err) {
      logger.error(
        { err: redactSecrets(String(err)), delivery: delivery.id },
        "alerts: cannot record a delivery attempt (it will be sent again)",
      );
      return;
    }
    const where = {
      delivery: delivery.id,
      alert: delivery.alert,
      sink: sink.name,
      to: displayUrl(sink.url),
    };
    if (delivered) logger.info({ ...where, ms: Math.round(result.durationMs) }, "alert delivered");
    else if (next.state === "failed")
      logger.error({ ...where, error: result.error }, "alert given up");
    else
      logger.warn(
        { ...where, error: result.error, retryAt: new Date(next.next_attempt_at).toISOString() },
        "alert delivery failed; will retry",
      );
    this.options.onAttempt?.(delivery, result);
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof Error && err.name === "TimeoutError")
    return `no answer within ${SEND_TIMEOUT_MS / 1000} s`;
  const cause =
    err instanceof Error
      ? (err.cause as { code?: string; message?: string } | undefined)
      : undefined;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ""}`;
  return err instanceof Error ? err.message : String(err);
}

function bounded(text: string): string {
  const clean = redactSecrets(text.replace(/\s+/g, " ").trim());
  return clean.length > MAX_ERROR ? `${clean.slice(0, MAX_ERROR - 1)}…` : clean;
}
