/** The furthest one move may take the clock: far enough for any key life or billing period. */
export const MAX_CLOCK_STEP_MS = 366 * 24 * 60 * 60 * 1000;

/** A move the clock refuses: backwards, zero, not a whole number, or too far at once. */
export class ClockMoveError extends Error {
  override name = "ClockMoveError";
}

/**
 * The sandbox's one clock: the injected time source plus an offset that only ever grows.
 * Everything time-based reads it (`created`, idempotency-key expiry, error log links, the
 * request log), so moving it moves them all together. Never backwards: the idempotency
 * ledger and the lists rely on time only going forward.
 */
export class SandboxClock {
  private offset: number;

  constructor(
    private readonly source: () => number,
    offsetMs = 0,
  ) {
    this.offset = offsetMs;
  }

  /** Milliseconds since the epoch. */
  now(): number {
    return this.source() + this.offset;
  }

  /** Unix seconds, as Stripe's objects carry time. */
  seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** How far this clock is ahead of its source (kept with the sandbox's state). */
  get offsetMs(): number {
    return this.offset;
  }

  /** Moves the clock `ms` forward; returns the new now. */
  advance(ms: number): number {
    if (!Number.isSafeInteger(ms) || ms <= 0) {
      throw new ClockMoveError(
        `advance_ms must be a whole number of milliseconds above 0, got ${ms}`,
      );
    }
    checkStep(ms, `advance_ms ${ms}`);
    this.offset += ms;
    return this.now();
  }

  /** Sets the clock to `ms` since the epoch, which may not be earlier than now; returns it. */
  set(ms: number): number {
    if (!Number.isSafeInteger(ms)) {
      throw new ClockMoveError(
        `now must be a whole number of milliseconds since the epoch, got ${ms}`,
      );
    }
    const current = this.now();
    if (ms < current) {
      throw new ClockMoveError(
        `the sandbox's clock never goes backwards: now is ${current} (${iso(current)}), ${ms} (${iso(ms)}) is earlier`,
      );
    }
    checkStep(ms - current, `now ${ms} (${iso(ms)})`);
    this.offset += ms - current;
    return this.now();
  }
}

function checkStep(ms: number, what: string): void {
  if (ms > MAX_CLOCK_STEP_MS) {
    throw new ClockMoveError(
      `the sandbox's clock moves at most 366 days (${MAX_CLOCK_STEP_MS} ms) at once; ${what} is further`,
    );
  }
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? "not a date" : date.toISOString();
}
