import { redactSecrets } from "../audit/redact.js";
import type { Logger } from "../logger.js";
import { HEARTBEAT_MS } from "./owner.js";
import type { ReconcileReport } from "./reconcile.js";

/**
 * Reconciliation of one agent's writes: once, then again every beat for as long as another
 * live process still has some of them in flight. Should that process die, its writes are
 * taken over as soon as its heartbeat goes stale, not when this process next starts.
 */
export class Takeover {
  /** Settles once the first pass is done (it never rejects: failures are logged). */
  readonly firstPass: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly agent: string,
    private readonly reconcile: () => Promise<ReconcileReport>,
    private readonly logger: Logger,
  ) {
    this.firstPass = this.pass();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async pass(): Promise<void> {
    const { agent, logger } = this;
    let reconciled: ReconcileReport;
    try {
      reconciled = await this.reconcile();
    } catch (err) {
      logger.error({ agent, err: redactSecrets(String(err)) }, "reconciliation failed");
      return;
    }
    if (reconciled.checked > 0 || !this.timer)
      logger.info({ agent, reconciled }, "reconciliation done");
    if (reconciled.inFlight === 0 || this.stopped) return;
    this.timer = setTimeout(() => void this.pass(), HEARTBEAT_MS);
    this.timer.unref();
  }
}
