import type Database from "better-sqlite3";
import type { ApiKeyRecord } from "../store.js";
import { withBusyRetry } from "./busy.js";

/** The `api_keys` and `session_keys` statements, prepared once (see `SqliteStore`). */
export function prepareKeyStatements(db: Database.Database) {
  const insert = db.prepare(`
    INSERT INTO api_keys (id, kind, name, policy_file, credential, key_hash, oauth_client,
      created_at, expires_at, revoked_at, revoked_reason)
    VALUES (@id, @kind, @name, @policy_file, @credential, @key_hash, @oauth_client,
      @created_at, @expires_at, @revoked_at, @revoked_reason)`);
  const byHash = db.prepare(`SELECT * FROM api_keys WHERE key_hash = ?`);
  const byId = db.prepare(`SELECT * FROM api_keys WHERE id = ?`);
  const all = db.prepare(`SELECT * FROM api_keys ORDER BY created_at, id`);
  const revoke = db.prepare(
    `UPDATE api_keys SET revoked_at = @at, revoked_reason = @reason
     WHERE id = @id AND revoked_at IS NULL`,
  );
  const bindSession = db.prepare(
    `INSERT OR REPLACE INTO session_keys (session, key_id) VALUES (?, ?)`,
  );
  const keyOfSession = db.prepare(`SELECT key_id FROM session_keys WHERE session = ?`);
  return {
    /** Inside a caller's transaction (no retry of its own). */
    insert(key: ApiKeyRecord): void {
      insert.run(key);
    },
    create(key: ApiKeyRecord): void {
      withBusyRetry(() => insert.run(key));
    },
    findByHash(keyHash: string): ApiKeyRecord | undefined {
      return byHash.get(keyHash) as ApiKeyRecord | undefined;
    },
    get(id: string): ApiKeyRecord | undefined {
      return byId.get(id) as ApiKeyRecord | undefined;
    },
    list(): ApiKeyRecord[] {
      return all.all() as ApiKeyRecord[];
    },
    revoke(id: string, at: number, reason: string | null): boolean {
      return withBusyRetry(() => revoke.run({ id, at, reason }).changes > 0);
    },
    recordSessionKey(session: string, keyId: string): void {
      withBusyRetry(() => bindSession.run(session, keyId));
    },
    sessionKey(session: string): string | undefined {
      return (keyOfSession.get(session) as { key_id: string } | undefined)?.key_id;
    },
  };
}

export type KeyStatements = ReturnType<typeof prepareKeyStatements>;
