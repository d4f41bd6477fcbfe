import type Database from "better-sqlite3";

/**
 * Every table of the database, read as it is, for `import-sqlite`: names and columns from
 * SQLite's own catalog (so a column a migration adds is copied without a change here), and
 * rows as arrays in the order asked for. Reads only; the caller holds the read transaction.
 */

export interface SqliteTable {
  name: string;
  columns: readonly string[];
  /** A rowid table (not WITHOUT ROWID): its rows also have a `rowid`, their insertion order. */
  rowid: boolean;
}

export class SqliteTables {
  constructor(private readonly db: Database.Database) {}

  list(): SqliteTable[] {
    const tables = this.db
      .prepare(
        `SELECT name, wr FROM pragma_table_list
         WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY name`,
      )
      .all() as { name: string; wr: number }[];
    const columns = this.db.prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid").pluck();
    return tables.map((table) => ({
      name: table.name,
      columns: columns.all(table.name) as string[],
      rowid: table.wr === 0,
    }));
  }

  /**
   * The rows of `table`, each the values of `columns` in that order (`rowid` may be one of
   * them, on a rowid table), by primary key. Lazily: one row in memory at a time.
   */
  rows(table: string, columns: readonly string[]): IterableIterator<unknown[]> {
    const list = columns.map(quoted).join(", ");
    return this.db
      .prepare(`SELECT ${list} FROM ${quoted(table)}`)
      .raw(true)
      .iterate() as IterableIterator<unknown[]>;
  }
}

/** Names come from the catalog; quoting keeps an odd one from being read as SQL. */
function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
