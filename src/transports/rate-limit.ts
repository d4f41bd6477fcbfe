/**
 * A token bucket per key: `perSecond` requests a second on average, bursts up to
 * `burst`. A key that is refused learns when its next token arrives (`Retry-After`).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) {
      throw new RangeError("a rate limit needs perSecond > 0 and burst >= 1");
    }
  }

  /**
   * Takes `count` tokens (one per message); when there are too few, none are taken and
   * the answer is the seconds until there are enough (at least 1).
   */
  take(key: string, count = 1): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const now = this.clock();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond,
    );
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((count - bucket.tokens) / this.perSecond)),
    };
  }

  /** Forgets buckets that have filled up again, so idle keys cost no memory. */
  prune(): void {
    const now = this.clock();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst) {
        this.buckets.delete(key);
      }
    }
  }
}
