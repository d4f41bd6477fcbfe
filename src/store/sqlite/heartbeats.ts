import type Database from "better-sqlite3";
import type { HeartbeatReading, OwnerHeartbeat, OwnerIdentity } from "../store.js";

/**
 * The `owner_heartbeats` statements, prepared once (see `SqliteStore`). One SQLite file is
 * one machine's, so the database's clock is this machine's.
 */
export function prepareHeartbeatStatements(db: Database.Database) {
  const beat = db.prepare(`
    INSERT INTO owner_heartbeats (instance, host, pid, started_at, seen_at)
    VALUES (@instance, @host, @pid, @now, @now)
    ON CONFLICT (instance) DO UPDATE SET seen_at = MAX(seen_at, excluded.seen_at)`);
  const read = db.prepare(`
    SELECT instance, host, pid, started_at, seen_at FROM owner_heartbeats
    WHERE instance IN (SELECT value FROM json_each(?))`);
  const forget = db.prepare(`DELETE FROM owner_heartbeats WHERE instance = ?`);
  const forgetSilent = db.prepare(`DELETE FROM owner_heartbeats WHERE seen_at < ?`);
  return {
    beat(owner: OwnerIdentity): void {
      beat.run({ instance: owner.instance, host: owner.host, pid: owner.pid, now: Date.now() });
    },
    read(instances: readonly string[]): HeartbeatReading {
      const beats = read.all(JSON.stringify(instances)) as OwnerHeartbeat[];
      return { now: Date.now(), beats };
    },
    forget(instance: string): void {
      forget.run(instance);
    },
    forgetSilent(ageMs: number): number {
      return forgetSilent.run(Date.now() - ageMs).changes;
    },
  };
}

export type HeartbeatStatements = ReturnType<typeof prepareHeartbeatStatements>;
