import { randomBytes } from "node:crypto";
import { hostId } from "../config.js";
import type { Admission, OwnerIdentity, Store } from "../store/store.js";

/**
 * Whether the process that reserved an admission can still finish it. A reservation
 * whose owner is gone (crashed, killed) may or may not have reached Stripe: it is
 * replayed with its idempotency key to find out. An owner is its host, its pid and a
 * random id of its process instance; every process that can own writes beats (see
 * `heartbeat.ts`), so other hosts, whose pids mean nothing there, tell a dead owner
 * from a slow one by its heartbeat.
 */

/** Past this, a reservation is stale even if its owner looks alive (stuck, or its pid reused). */
const STALE_RESERVATION_MS = 15 * 60_000;

/** How often a process that can own writes says it is alive. */
export const HEARTBEAT_MS = 5_000;

/**
 * An owner silent this long is gone: three beats, so two beats lost to a pause or a slow
 * database moment never hand a live host's write to another. Taking over early would
 * still move no money twice (the same idempotency key is sent), only muddle the books.
 */
export const OWNER_SILENT_MS = 3 * HEARTBEAT_MS;

let self: OwnerIdentity | undefined;

/** This process as the owner of the writes it reserves: one identity for its whole life. */
export function thisOwner(): OwnerIdentity {
  self ??= { host: hostId(undefined), pid: process.pid, instance: randomBytes(8).toString("hex") };
  return self;
}

/**
 * Names this process's host (`SPENDGUARD_HOST_ID`), before it reserves anything: a
 * process keeps one identity, so its host can be named once.
 */
export function nameThisHost(host: string): OwnerIdentity {
  if (self && self.host !== host) throw new Error(`this process is already host ${self.host}`);
  self ??= { host, pid: process.pid, instance: randomBytes(8).toString("hex") };
  return self;
}

/** What is known of some admissions' owners, read from the store before deciding. */
export interface OwnerLiveness {
  self: OwnerIdentity;
  /** The guard's clock, ms since the epoch. */
  now: number;
  /** Per owner instance, how long since its last beat (the database's clock); absent: none. */
  silentFor: ReadonlyMap<string, number>;
}

/** The heartbeats of the owners of these admissions' reservations (one read). */
export async function readOwners(
  store: Store,
  admissions: readonly Admission[],
  now: number,
): Promise<OwnerLiveness> {
  const me = thisOwner();
  const instances = new Set<string>();
  for (const a of admissions) {
    if (a.state === "reserved" && a.owner_instance !== null && a.owner_instance !== me.instance)
      instances.add(a.owner_instance);
  }
  if (instances.size === 0) return { self: me, now, silentFor: new Map() };
  const reading = await store.heartbeats([...instances]);
  return {
    self: me,
    now,
    silentFor: new Map(reading.beats.map((beat) => [beat.instance, reading.now - beat.seen_at])),
  };
}

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

export function ownerIsGone(admission: Admission, owners: OwnerLiveness): boolean {
  if (admission.state !== "reserved") return false;
  if (owners.now - admission.created_at > STALE_RESERVATION_MS) return true;
  const { owner_instance: instance, owner_host: host, owner_pid: pid } = admission;
  // Written before owners had an instance: its pid is all there is.
  if (instance === null) return !isProcessAlive(pid);
  if (instance === owners.self.instance) return false;
  const sameHost = host === owners.self.host;
  // On its own host a dead pid is proof at once (a crash on one machine).
  if (sameHost && !isProcessAlive(pid)) return true;
  const silent = owners.silentFor.get(instance);
  // No beat at all: it stopped cleanly (its beat is forgotten then) or was silent for a
  // day. Here, its pid still running says more than a missing row.
  if (silent === undefined) return !sameHost;
  return silent > OWNER_SILENT_MS;
}
