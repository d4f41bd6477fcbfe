import { ConfigError } from "../errors.js";
import { type DataLocation, openStore } from "../store/open.js";
import type { SessionRecord, Store } from "../store/store.js";

/**
 * Opens the store for a command that reads it. A missing SQLite database is a mistake
 * worth saying (a wrong `SPENDGUARD_HOME`), not a reason to create an empty one.
 */
export function openExistingStore(location: DataLocation): Promise<Store> {
  return openStore(location, { mustExist: true });
}

/** Runs `fn` with the store open, closing it afterwards. */
export async function withStore<T>(location: DataLocation, fn: (store: Store) => T): Promise<T> {
  const store = await openExistingStore(location);
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
