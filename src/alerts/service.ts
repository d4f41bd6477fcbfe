import { redactSecrets } from "../audit/redact.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import { storeUnavailableCode } from "../store/unavailable.js";
import type { AlertsConfig, Sink } from "./config.js";
import { afterFailure, DeliveryWorker, type SendResult, send } from "./delivery.js";
import { AlertEngine } from "./engine.js";
import { storeEvent } from "./events.js";
import { type Alert, jsonBody, slackBody } from "./payload.js";
import { alertId } from "./rules.js";

/**
 * Alerts in one process: the rules evaluated right after each tool call (so a pause
 * applies from the agent's very next call) and every `pollMs` for what other processes
 * wrote, and the outbox delivered. A store that cannot be reached cannot hold the alert
 * saying so: `store_unavailable` alerts go straight from memory, retried while the
 * process runs.
 */

export interface AlertServiceOptions {
  config: AlertsConfig;
  /** The store as it is, not the observed one (its own failures are reported here). */
  store: Store;
  /** `ops_…`: names this process in the audit rows of automatic pauses. */
  session: string;
  logger: Logger;
  clock?: () => number;
  /** How often rows from other processes are looked for, and due deliveries sent. */
  pollMs?: number;
  onAttempt?: (sink: string, result: SendResult) => void;
}

const DEFAULT_POLL_MS = 1_000;
/** `store_unavailable` alerts waiting in memory, at most. */
const DIRECT_MAX = 50;

interface DirectDelivery {
  sink: Sink;
  body: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
}

export class AlertService {
  private readonly engine: AlertEngine;
  private readonly worker: DeliveryWorker;
  private readonly clock: () => number;
  private readonly timer: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private sweepNext = false;
  private readonly direct: DirectDelivery[] = [];
  private readonly lastStoreAlert = new Map<string, number>();
  private sendingDirect = false;
  private closed = false;

  /** Reads where the shared cursor stands, then starts polling. */
  static async open(options: AlertServiceOptions): Promise<AlertService> {
    const engine = await AlertEngine.open({
      config: options.config,
      store: options.store,
      clock: options.clock ?? Date.now,
      logger: options.logger,
      session: options.session,
    });
    return new AlertService(options, engine);
  }

  private constructor(
    private readonly options: AlertServiceOptions,
    engine: AlertEngine,
  ) {
    this.clock = options.clock ?? Date.now;
    const { config, store, logger } = options;
    this.engine = engine;
    this.worker = new DeliveryWorker({
      store,
      sinks: config.sinks,
      schedule: config.delivery,
      clock: this.clock,
      logger,
      onAttempt: (delivery, result) => options.onAttempt?.(delivery.sink, result),
    });
    this.timer = setInterval(() => {
      this.tick().catch(() => undefined);
    }, options.pollMs ?? DEFAULT_POLL_MS);
    this.timer.unref();
  }

  /**
   * The guard's `afterCall`: evaluates the rows written since the last pass (this call's
   * among them) before the call's answer goes back; sending happens after.
   */
  afterCall(): Promise<void> {
    return this.schedule(false);
  }

  /** The observed store's report of a failure: alerts if it means the store is unreachable. */
  storeFailed(operation: string, err: unknown): void {
    const code = storeUnavailableCode(err);
    if (code === undefined || this.closed) return;
    const now = this.clock();
    const event = storeEvent(now, operation, code);
    for (const rule of this.options.config.rules) {
      if (rule.on !== "store_unavailable" || rule.agents || rule.tools) continue;
      const last = this.lastStoreAlert.get(rule.id);
      if (last !== undefined && now - last < Math.max(rule.cooldownMs, 1_000)) continue;
      this.lastStoreAlert.set(rule.id, now);
      const alert: Alert = { id: alertId(rule.id, event.key), rule: rule.id, event };
      for (const name of rule.sinks) {
        const sink = this.options.config.sinks.find((s) => s.name === name);
        if (!sink || this.direct.length >= DIRECT_MAX) continue;
        this.direct.push({
          sink,
          body: sink.format === "slack" ? slackBody(alert) : jsonBody(alert),
          attempts: 0,
          created_at: now,
          next_attempt_at: now,
        });
      }
    }
    this.sendDirect().catch(() => undefined);
  }

  /** Stops polling and waits (a little) for sends under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.race([
      Promise.all([this.chain, this.worker.run()]),
      new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }

  /** One poll: other processes' rows, kills, unresolved outcomes, then the outbox. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    await this.schedule(true);
    await this.worker.run();
    await this.sendDirect();
  }

  /**
   * Passes run one at a time. A caller waits for the next pass that has not started yet:
   * it reads the store after the caller's rows were written.
   */
  private schedule(sweep: boolean): Promise<void> {
    if (sweep) this.sweepNext = true;
    if (!this.queued) {
      const queued = this.chain.then(() => {
        this.queued = null;
        const withSweep = this.sweepNext;
        this.sweepNext = false;
        return this.pass(withSweep);
      });
      this.queued = queued;
      this.chain = queued;
    }
    return this.queued;
  }

  private async pass(sweep: boolean): Promise<void> {
    let queued = 0;
    try {
      queued = await this.engine.evaluateAudit();
      if (sweep) queued += await this.engine.sweep();
    } catch (err) {
      this.options.logger.error({ err: redactSecrets(String(err)) }, "alerts: evaluation failed");
      this.storeFailed("alerts", err);
    }
    // Sent right away, but not awaited: the call that queued it gets its answer now.
    if (queued > 0) this.worker.run().catch(() => undefined);
  }

  private async sendDirect(): Promise<void> {
    if (this.sendingDirect) return;
    this.sendingDirect = true;
    try {
      const now = this.clock();
      for (const item of [...this.direct]) {
        if (item.next_attempt_at > now) continue;
        const result = await send(item.sink, item.body, this.clock());
        const { logger } = this.options;
        if (result.error === null) {
          this.direct.splice(this.direct.indexOf(item), 1);
          logger.warn({ sink: item.sink.name }, "alerts: store_unavailable alert delivered");
          continue;
        }
        const next = afterFailure(item, this.clock(), this.options.config.delivery);
        item.attempts++;
        if (next.state === "failed") this.direct.splice(this.direct.indexOf(item), 1);
        else item.next_attempt_at = next.next_attempt_at;
        logger.error(
          { sink: item.sink.name, error: result.error, attempts: item.attempts },
          "alerts: store_unavailable alert not delivered",
        );
      }
    } finally {
      this.sendingDirect = false;
    }
  }
}
