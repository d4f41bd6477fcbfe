import { describeLocation } from "../../store/open.js";
import { migratePostgres, PgDatabase } from "../../store/postgres/database.js";
import { openSqliteStore } from "../../store/sqlite/store.js";
import { HOME_FLAG, locationOf, parseFlags } from "../args.js";
import type { CliCommand } from "../command.js";

const USAGE = `Usage: spendguard migrate [--database URL] [--home DIR]

Brings the database's schema to the version this spendguard writes. With PostgreSQL
(--database or SPENDGUARD_DATABASE_URL), run it once before starting the servers of a
new version: \`serve\` refuses a database that is behind and names this command. Several
hosts running it at once is safe (one migrates, the others find it done). SQLite in
SPENDGUARD_HOME upgrades itself when opened; this does the same, ahead of time.

Options:
  --database URL  the PostgreSQL to migrate (default: SPENDGUARD_DATABASE_URL)
  --home DIR      the SQLite data directory, when no database URL is given
                  (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 migrated or already current, 1 the database cannot be reached or is newer
than this spendguard, 2 usage.
`;

export const migrateCommand: CliCommand = {
  name: "migrate",
  summary: "bring the database's schema up to date (PostgreSQL: before starting servers)",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseFlags(argv, HOME_FLAG);
    const location = locationOf(values, io.env);
    const where = describeLocation(location);
    if (!location.databaseUrl) {
      await openSqliteStore(location.home).close();
      io.stdout.write(`Schema current in ${where}.\n`);
      return 0;
    }
    const db = new PgDatabase(location.databaseUrl);
    try {
      const { from, to } = await migratePostgres(db);
      io.stdout.write(
        from === to
          ? `Schema already current (version ${to}) in ${where}.\n`
          : `Migrated ${where} from schema version ${from} to ${to}.\n`,
      );
      return 0;
    } finally {
      await db.close();
    }
  },
};
