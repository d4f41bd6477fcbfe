import { redactError } from "../audit/redact-error.js";
import type { Logger } from "../logger.js";
import type { OwnerIdentity, Store } from "../store/store.js";
import { HEARTBEAT_MS, thisOwner } from "./owner.js";

/** Beats not seen for a day are forgotten (a process that died long ago owns nothing now). */
const FORGET_AFTER_MS = 24 * 3_600_000;

/**
 * A process that can own writes in flight saying, every few seconds, that it is alive, so
 * other hosts leave its writes to it while it beats and take them over once it stops.
 * A failed beat is logged, never fatal: missing a few is what the bound allows for.
 */
export class Heartbeat {
  private readonly timer: NodeJS.Timeout;
  private beating: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly owner: OwnerIdentity,
  ) {
    this.timer = setInterval(() => {
      this.beating = this.beat();
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Beats once before anything is reserved, then every `HEARTBEAT_MS`. */
  static async start(store: Store, logger: Logger, owner = thisOwner()): Promise<Heartbeat> {
    const heartbeat = new Heartbeat(store, logger, owner);
    await heartbeat.beat();
    try {
      await store.forgetSilentHeartbeats(FORGET_AFTER_MS);
    } catch (err) {
      logger.debug({ err: redactError(err) }, "forgetting old heartbeats failed");
    }
    logger.debug({ owner }, "heartbeat started");
    return heartbeat;
  }

  /** Stops beating and forgets this owner: a clean stop leaves nothing in flight to wait for. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    try {
      await this.store.forgetHeartbeat(this.owner.instance);
    } catch (err) {
      this.logger.warn({ err: redactError(err) }, "forgetting this process's heartbeat failed");
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.store.beat(this.owner);
    } catch (err) {
      this.logger.warn({ err: redactError(err) }, "heartbeat failed");
    }
  }
}
