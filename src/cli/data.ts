import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import { DATABASE_FILE, openSqliteStore, type SqliteStore } from "../store/sqlite/store.js";
import type { SessionRecord, Store } from "../store/store.js";

/**
 * Opens the data directory's database for a command that reads it. A missing database is
 * a mistake worth saying (a wrong `SPENDGUARD_HOME`), not a reason to create an empty one.
 */
export function openExistingStore(home: string): SqliteStore {
  if (!existsSync(join(home, DATABASE_FILE))) {
    throw new ConfigError(
      `no spendguard data in ${home} (no ${DATABASE_FILE} there). Point SPENDGUARD_HOME (or --home) at the directory \`spendguard serve\` uses; \`spendguard demo\` prints the one it made.`,
    );
  }
  return openSqliteStore(home);
}

/** Runs `fn` with the store open, closing it afterwards. */
export async function withStore<T>(home: string, fn: (store: SqliteStore) => T): Promise<T> {
  const store = openExistingStore(home);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * A session named in full or by a prefix (as tables show them, `ses_3f9a0c1d`). An
 * unknown or ambiguous id is a failure that says how to find the right one.
 */
export async function findSession(store: Store, id: string): Promise<SessionRecord> {
  const exact = await store.getSession(id);
  if (exact) return exact;
  const matches =
    id.length >= 6
      ? (await store.listSessions({})).filter((session) => session.id.startsWith(id))
      : [];
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length > 1) {
    throw new ConfigError(
      `'${id}' matches ${matches.length} sessions (${matches
        .slice(0, 5)
        .map((s) => s.id)
        .join(", ")}${matches.length > 5 ? ", …" : ""}); give more of the id.`,
    );
  }
  throw new ConfigError(
    `no session '${id}' in this data directory; \`spendguard sessions\` lists them.`,
  );
}
