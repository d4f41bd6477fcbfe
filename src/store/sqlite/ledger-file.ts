import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../errors.js";
import { MIGRATIONS } from "./migrations.js";
import { openDatabase } from "./open.js";
import { DATABASE_FILE, SqliteStore } from "./store.js";

/**
 * An existing SQLite ledger named by a person (`import-sqlite PATH`): its data directory or
 * the database file in it. Whatever is wrong with it — missing, not spendguard's, locked,
 * damaged — becomes one sentence naming the file and the cause, before anything is written.
 */

/** Opens the ledger at `path` the normal way (an older schema is brought up to date). */
export function openExistingLedger(path: string): SqliteStore {
  const file = ledgerFile(path);
  checkLedger(file);
  try {
    return new SqliteStore(file);
  } catch (err) {
    throw sqliteFault(err, file);
  }
}

function ledgerFile(path: string): string {
  if (!existsSync(path)) throw new ConfigError(`${path} does not exist.`);
  if (!statSync(path).isDirectory()) return path;
  const file = join(path, DATABASE_FILE);
  if (!existsSync(file)) {
    throw new ConfigError(
      `${path} is not a spendguard data directory (no ${DATABASE_FILE} in it); give the SPENDGUARD_HOME the SQLite servers used.`,
    );
  }
  return file;
}

/** Reads the file once, so a foreign or damaged one is refused before the migration writes. */
function checkLedger(file: string): void {
  let db: ReturnType<typeof openDatabase> | undefined;
  try {
    db = openDatabase(file, { fileMustExist: true, timeout: 3_000 });
    const version = db.pragma("user_version", { simple: true }) as number;
    const hasAudit = db
      .prepare("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit'")
      .pluck()
      .get();
    if (version === 0 || hasAudit !== 1) {
      throw new ConfigError(`${file} is an SQLite database, but not a spendguard ledger.`);
    }
    if (version > MIGRATIONS.length) {
      throw new ConfigError(
        `${file} was written by a newer spendguard (schema ${version}, this one knows ${MIGRATIONS.length}); import it with that version.`,
      );
    }
    // A reader waits for nothing in WAL mode, so this fails only on a file held exclusively.
    db.prepare("SELECT 1 FROM audit LIMIT 1").get();
  } catch (err) {
    throw sqliteFault(err, file);
  } finally {
    db?.close();
  }
}

/** SQLite's error codes, as a person reads them. Other errors pass unchanged. */
export function sqliteFault(err: unknown, file: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof ConfigError || typeof code !== "string" || !code.startsWith("SQLITE_")) {
    return err;
  }
  const cause = err instanceof Error ? err.message : String(err);
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new ConfigError(
      `${file} is locked by another process (${cause}); try again when it lets go.`,
    );
  }
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return new ConfigError(`${file} is damaged or not an SQLite database (${cause}).`);
  }
  return new ConfigError(`cannot read ${file}: ${cause} (${code}).`);
}
