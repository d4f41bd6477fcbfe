/**
 * Lock contention is a wait, never an error the agent sees. SQLite's busy timeout covers
 * most of it; when an attempt still gives up (a long queue of writers from several
 * processes), the whole statement or transaction is tried again after a short pause.
 */

const BUSY_CODES = new Set([
  "SQLITE_BUSY",
  "SQLITE_BUSY_SNAPSHOT",
  "SQLITE_BUSY_RECOVERY",
  "SQLITE_LOCKED",
]);
const MAX_ATTEMPTS = 20;
const pause = new Int32Array(new SharedArrayBuffer(4));

function isBusyError(err: unknown): boolean {
  return err instanceof Error && BUSY_CODES.has((err as { code?: string }).code ?? "");
}

export function withBusyRetry<T>(work: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return work();
    } catch (err) {
      if (!isBusyError(err) || attempt >= MAX_ATTEMPTS) throw err;
      // better-sqlite3 is synchronous, so the wait is too; jitter keeps retries apart.
      Atomics.wait(pause, 0, 0, Math.min(5 * attempt, 50) + Math.random() * 10);
    }
  }
}
