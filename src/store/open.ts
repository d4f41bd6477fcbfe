import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import { openPostgresStore } from "./postgres/store.js";
import { DATABASE_FILE, openSqliteStore } from "./sqlite/store.js";
import type { Store } from "./store.js";

/**
 * Where the data lives: PostgreSQL when a URL is given (`SPENDGUARD_DATABASE_URL`,
 * `--database`), shared by every host; else SQLite in `SPENDGUARD_HOME`. The home is
 * there either way: kill flag files act on their own host only.
 */
export interface DataLocation {
  home: string;
  databaseUrl?: string | undefined;
}

/** A human name for the store, for messages: the URL without its password, or the file. */
export function describeLocation(location: DataLocation): string {
  if (!location.databaseUrl) return join(location.home, DATABASE_FILE);
  const url = new URL(location.databaseUrl);
  if (url.password) url.password = "***";
  return url.toString();
}

/**
 * Opens the store. `mustExist`: a command that only reads refuses an SQLite home with no
 * database (a wrong `SPENDGUARD_HOME`) rather than creating an empty one.
 */
export async function openStore(
  location: DataLocation,
  { mustExist = false }: { mustExist?: boolean } = {},
): Promise<Store> {
  if (location.databaseUrl) return openPostgresStore(location.databaseUrl);
  if (mustExist && !existsSync(join(location.home, DATABASE_FILE))) {
    throw new ConfigError(
      `no spendguard data in ${location.home} (no ${DATABASE_FILE} there). Point SPENDGUARD_HOME (or --home) at the directory \`spendguard serve\` uses, or SPENDGUARD_DATABASE_URL (or --database) at its PostgreSQL; \`spendguard demo\` prints the home it made.`,
    );
  }
  return openSqliteStore(location.home);
}
