import pg from "pg";
import { ConfigError, SpendguardError } from "../../errors.js";
import { PG_MIGRATIONS } from "./migrations.js";

/**
 * The connection pool and what every statement shares: a timeout on each statement, lock
 * wait and connection attempt, and one meaning for a database that cannot answer — the
 * typed `store_unavailable` error, so a money-moving call is refused, never let through.
 * A broken connection is dropped from the pool; the next statement opens a new one, so
 * service resumes by itself when the database returns.
 */

export interface PgOptions {
  /** Longest a statement may run (and a lock be waited for) before it is given up. */
  statementTimeoutMs?: number;
  /** Longest a new connection may take. */
  connectTimeoutMs?: number;
  /** Connections per process. */
  maxConnections?: number;
}

export type Queryable = pg.Pool | pg.PoolClient;

/** BIGINT columns (times in ms, money in minor units, counts) fit a double exactly. */
const TYPES = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return Number;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** SQLSTATE classes that mean "cannot answer now", not "this statement is wrong". */
const UNAVAILABLE_CLASSES = ["08", "53", "57", "58"];
/** "database … is not currently accepting connections": taken offline by its operator. */
const NOT_ACCEPTING_CONNECTIONS = "55000";
/** Retried inside the store: another transaction won a race; trying again is the fix. */
const RETRY_CODES = new Set(["40001", "40P01"]);
const MAX_RETRIES = 10;

export class PgDatabase {
  readonly pool: pg.Pool;

  constructor(
    readonly url: string,
    options: PgOptions = {},
  ) {
    const timeout = options.statementTimeoutMs ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 20,
      // Also the longest wait for a free connection of the pool, under a burst of calls.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      statement_timeout: timeout,
      lock_timeout: timeout,
      // Client-side too: a database that stops answering mid-statement is given up on.
      query_timeout: timeout + 1_000,
      idle_in_transaction_session_timeout: timeout * 2,
      idleTimeoutMillis: 30_000,
      // Idle connections never keep a finished CLI command (or test) alive.
      allowExitOnIdle: true,
      application_name: "spendguard",
      types: TYPES,
    });
    // An idle connection the server dropped (a restart): the pool replaces it.
    this.pool.on("error", () => undefined);
  }

  async query<Row extends pg.QueryResultRow>(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, params as unknown[])).rows;
    } catch (err) {
      throw storeError(err);
    }
  }

  /** Runs `work` in one transaction, again from the start after a lost race (deadlock). */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw storeError(err);
      }
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await work(client);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch((rollbackErr: Error) => {
          broken = rollbackErr;
        });
        const code = sqlState(err);
        if (code !== undefined && RETRY_CODES.has(code) && attempt < MAX_RETRIES) continue;
        throw storeError(err);
      } finally {
        // A connection that failed mid-transaction is not handed to anyone else.
        client.release(broken);
      }
    }
  }

  /** The same fault mapping, for statements run on the pool directly. */
  mapError(err: unknown): unknown {
    return storeError(err);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Whether a failure means the database could not answer (down, unreachable, too slow). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof SpendguardError) return err.code === "store_unavailable";
  const code = sqlState(err);
  if (code !== undefined) {
    return UNAVAILABLE_CLASSES.includes(code.slice(0, 2)) || code === NOT_ACCEPTING_CONNECTIONS;
  }
  if (!(err instanceof Error)) return false;
  // No SQLSTATE: the socket (ECONNREFUSED, ECONNRESET, …), or the client giving up.
  const errno = (err as NodeJS.ErrnoException).code;
  return (
    (typeof errno === "string" && /^E[A-Z]+$/.test(errno)) || CLIENT_FAILURES.test(err.message)
  );
}

/** What node-postgres says when the connection, not the statement, failed. */
const CLIENT_FAILURES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection error|Cannot use a pool after calling end|Client was closed/i;

function storeError(err: unknown): unknown {
  if (err instanceof SpendguardError || !isUnavailable(err)) return err;
  return new SpendguardError(
    "store_unavailable",
    "spendguard's database cannot be reached right now, so nothing was done.",
    "Try again in a moment; the operator's log says why.",
  );
}

/** The schema version a database is at: 0 for an empty one. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const table = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('schema_version') IS NOT NULL AS exists",
  );
  if (!table.rows[0]?.exists) return 0;
  const row = await db.query<{ version: number }>("SELECT version FROM schema_version");
  return row.rows[0]?.version ?? 0;
}

/** Applies the migrations a database has not seen; returns the versions before and after. */
export async function migratePostgres(db: PgDatabase): Promise<{ from: number; to: number }> {
  return db.transaction(async (client) => {
    // One migrator at a time, however many hosts run `spendguard migrate` at once.
    await client.query("SELECT pg_advisory_xact_lock(0, 0)");
    const from = await schemaVersion(client);
    if (from > PG_MIGRATIONS.length) throw newerSchema(from);
    if (from === 0) {
      await client.query("CREATE TABLE schema_version (version INTEGER NOT NULL)");
      await client.query("INSERT INTO schema_version (version) VALUES (0)");
    }
    for (let next = from; next < PG_MIGRATIONS.length; next++) {
      await client.query(PG_MIGRATIONS[next] ?? "");
    }
    await client.query("UPDATE schema_version SET version = $1", [PG_MIGRATIONS.length]);
    return { from, to: PG_MIGRATIONS.length };
  });
}

/**
 * One statement first, so an unreachable database is named with its cause (`target`: the
 * URL without its password). pg never puts the password in a message; this keeps it out
 * whatever the message says.
 */
export async function reachPostgres(db: PgDatabase, url: string, target: string): Promise<void> {
  try {
    await db.pool.query("SELECT 1");
  } catch (err) {
    const password = new URL(url).password;
    let cause = err instanceof Error ? err.message : String(err);
    for (const secret of password ? [password, decodeURIComponent(password)] : []) {
      cause = cause.replaceAll(secret, "***");
    }
    throw new ConfigError(`cannot reach ${target}: ${cause}.`);
  }
}

/** A database's schema version beside the one this build writes (`spendguard doctor`). */
export async function inspectPostgres(
  url: string,
  target: string,
): Promise<{ version: number; current: number }> {
  const db = new PgDatabase(url);
  try {
    await reachPostgres(db, url, target);
    return { version: await schemaVersion(db.pool), current: PG_MIGRATIONS.length };
  } finally {
    await db.close();
  }
}

/** Refuses a database whose schema is not the one this build writes. */
export async function requireCurrentSchema(db: PgDatabase): Promise<void> {
  let version: number;
  try {
    version = await schemaVersion(db.pool);
  } catch (err) {
    throw storeError(err);
  }
  if (version > PG_MIGRATIONS.length) throw newerSchema(version);
  if (version < PG_MIGRATIONS.length) {
    throw new ConfigError(
      `the database's schema is at version ${version}, this spendguard needs ${PG_MIGRATIONS.length}: run \`spendguard migrate\` (with the same SPENDGUARD_DATABASE_URL or --database) first.`,
    );
  }
}

function newerSchema(version: number): ConfigError {
  return new ConfigError(
    `the database was written by a newer spendguard (schema ${version}, this one knows ${PG_MIGRATIONS.length}); upgrade spendguard.`,
  );
}
