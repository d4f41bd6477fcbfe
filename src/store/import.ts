import { verifyAudit } from "../audit/chain.js";
import { ConfigError } from "../errors.js";
import { describeLocation } from "./open.js";
import { migratePostgres, PgDatabase, reachPostgres } from "./postgres/database.js";
import { copyTables } from "./postgres/import.js";
import { openExistingLedger, sqliteFault } from "./sqlite/ledger-file.js";

/**
 * `import-sqlite`: moves a ledger from one host's SQLite into PostgreSQL, chain intact.
 * The source is read in one read transaction (a server may still be writing to it), its
 * chain verified first; the target is migrated, must be empty, and receives everything in
 * one transaction that verifies the copied chain before committing.
 */

export interface LedgerImport {
  /** The SQLite file read. */
  source: string;
  /** The PostgreSQL written, without its password. */
  target: string;
  /** Rows copied, per table. */
  rows: Record<string, number>;
  /** Writes whose outcome was not known yet: they carry over, and keep counting. */
  unknownAdmissions: number;
  /** Writes that were in flight: the first server on the database reconciles them. */
  reservedAdmissions: number;
  head: { seq: number; hash: string } | undefined;
}

/** Longest one statement of the copy may run (an INSERT of a batch, a page of the check). */
const IMPORT_STATEMENT_TIMEOUT_MS = 120_000;

export async function importSqliteLedger(path: string, databaseUrl: string): Promise<LedgerImport> {
  const target = describeLocation({ home: path, databaseUrl });
  const store = openExistingLedger(path);
  try {
    return await store.readSnapshot(async (tables) => {
      const chain = await verifyAudit(store);
      if (!chain.ok) {
        throw new ConfigError(
          `the audit chain in ${store.file} is broken at row ${chain.brokenAt} (${chain.problem}); nothing was imported. Keep the file as evidence; \`spendguard audit verify --home DIR\` shows the row.`,
        );
      }
      const open = async (state: "unknown" | "reserved") =>
        (await store.listAdmissions({ states: [state] })).length;
      const [unknownAdmissions, reservedAdmissions] = [
        await open("unknown"),
        await open("reserved"),
      ];
      const db = new PgDatabase(databaseUrl, { statementTimeoutMs: IMPORT_STATEMENT_TIMEOUT_MS });
      try {
        await reachPostgres(db, databaseUrl, target);
        await migratePostgres(db);
        const copy = await copyTables(db, tables, target);
        return {
          source: store.file,
          target,
          rows: copy.rows,
          unknownAdmissions,
          reservedAdmissions,
          head: copy.head,
        };
      } finally {
        await db.close();
      }
    });
  } catch (err) {
    throw sqliteFault(err, store.file);
  } finally {
    await store.close();
  }
}
