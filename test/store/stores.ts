import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { describe, inject } from "vitest";
import { migratePostgres, PgDatabase } from "../../src/store/postgres/database.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";
import type { Store } from "../../src/store/store.js";
import { tempHome } from "../guard/fixtures/home.js";

/**
 * The stores every store contract test runs against: SQLite in a temp directory, and
 * PostgreSQL in a fresh schema of the run's server (see `test/postgres-server.ts`).
 */

export const POSTGRES_URL = inject("postgresUrl");
/** Set when there is no PostgreSQL to test against, saying why. */
export const POSTGRES_MISSING = inject("postgresMissing");

/** A new, migrated, empty database (a schema of its own) on the run's server: its URL. */
export async function freshPostgres(): Promise<string> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = new PgDatabase(POSTGRES_URL);
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.close();
  }
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const db = new PgDatabase(url.toString());
  try {
    await migratePostgres(db);
  } finally {
    await db.close();
  }
  return url.toString();
}

export interface StoreKind {
  name: "sqlite" | "postgres";
  open(): Promise<Store>;
  /** Runs raw SQL on the store's own database (to try what the store itself never does). */
  raw(store: Store, sql: string): Promise<void>;
}

export const STORE_KINDS: StoreKind[] = [
  {
    name: "sqlite",
    open: async () => openSqliteStore(tempHome()),
    raw: async (store, sql) => {
      const db = new Database((store as SqliteStore).file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
  },
  {
    name: "postgres",
    open: async () => openPostgresStore(await freshPostgres()),
    raw: async (store, sql) => {
      await (store as PostgresStore).db.query(sql);
    },
  },
];

/** `describe` once per store; the PostgreSQL one skips, saying why, without a server. */
export function describeEachStore(name: string, body: (kind: StoreKind) => void): void {
  for (const kind of STORE_KINDS) {
    const missing = kind.name === "postgres" && POSTGRES_MISSING;
    (missing ? describe.skip : describe)(
      `${name} (${kind.name}${missing ? `: skipped, ${POSTGRES_MISSING}` : ""})`,
      () => body(kind),
    );
  }
}
