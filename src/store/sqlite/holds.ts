import type Database from "better-sqlite3";
import type { AgentHold, HoldRequest, ReleaseRequest } from "../store.js";

/** The `agent_holds` statements, prepared once (see `SqliteStore`). */
export function prepareHoldStatements(db: Database.Database) {
  const columns = `agent, held_at, held_by, reason, released_at, released_by, release_reason`;
  const open = db.prepare(
    `SELECT ${columns} FROM agent_holds WHERE agent = ? AND released_at IS NULL`,
  );
  const latest = db.prepare(
    `SELECT ${columns} FROM agent_holds WHERE agent = ? ORDER BY id DESC LIMIT 1`,
  );
  const insert = db.prepare(`
    INSERT INTO agent_holds (agent, held_at, held_by, reason)
    VALUES (@agent, @at, @by, @reason)`);
  const release = db.prepare(`
    UPDATE agent_holds SET released_at = @at, released_by = @by, release_reason = @reason
    WHERE agent = @agent AND released_at IS NULL`);
  const list = db.prepare(`
    SELECT ${columns} FROM agent_holds WHERE (@open = 0 OR released_at IS NULL)
    ORDER BY id DESC`);
  return {
    open(agent: string): AgentHold | undefined {
      return open.get(agent) as AgentHold | undefined;
    },
    latest(agent: string): AgentHold | undefined {
      return latest.get(agent) as AgentHold | undefined;
    },
    insert(request: HoldRequest): void {
      insert.run(request);
    },
    release(request: ReleaseRequest): boolean {
      return release.run(request).changes > 0;
    },
    list(onlyOpen: boolean): AgentHold[] {
      return list.all({ open: onlyOpen ? 1 : 0 }) as AgentHold[];
    },
  };
}

export type HoldStatements = ReturnType<typeof prepareHoldStatements>;
