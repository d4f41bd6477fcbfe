import type { Admission } from "../store/store.js";

/**
 * Whether the process that reserved an admission can still finish it. A reservation
 * whose owner is gone (crashed, killed) may or may not have reached Stripe: it is
 * replayed with its idempotency key to find out.
 */

/** Past this, a reservation is stale even if its pid is alive (the pid was reused). */
const STALE_RESERVATION_MS = 15 * 60_000;

function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function ownerIsGone(admission: Admission, now: number): boolean {
  return (
    admission.state === "reserved" &&
    (!isProcessAlive(admission.owner_pid) || now - admission.created_at > STALE_RESERVATION_MS)
  );
}
