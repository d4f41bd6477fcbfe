import { dirname, join } from "node:path";
import { importSqliteLedger, type LedgerImport } from "../../store/import.js";
import { locationOf, parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { styleFor, table } from "../format.js";

const USAGE = `Usage: spendguard import-sqlite PATH [--database URL]

Copies the SQLite ledger of one host into PostgreSQL, so a team that outgrows one host
keeps its history: sessions (killed ones stay killed), keys, approvals, admissions (writes
whose outcome is unknown keep counting), the running totals the caps read, and the audit
with its hash chain intact. PATH is the data directory the SQLite servers used (their
SPENDGUARD_HOME) or the spendguard.db file in it.

Before anything is written, PATH is opened as serve opens it (an older schema is brought
up to date) and read in one read transaction, so a server still writing to it cannot
tear the copy (what it writes afterwards is not copied: stop the servers first); its
audit chain is verified, and a broken chain is refused, naming the row. The database is
migrated (as spendguard migrate does) and must be empty: import-sqlite never merges two
ledgers. The copy is one transaction whose chain is verified again before it commits, so
a failure leaves the database as it was.

Options:
  --database URL  the PostgreSQL to fill (default: SPENDGUARD_DATABASE_URL)

Exit code: 0 imported; 1 nothing imported: PATH is missing, not a spendguard data
directory, locked, damaged, or its audit chain is broken; or the database cannot be
reached or already holds data; 2 usage (no PATH, no database URL).
`;

export const importSqliteCommand: CliCommand = {
  name: "import-sqlite",
  summary: "copy a SQLite ledger into PostgreSQL, with its audit chain (moving to several hosts)",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags(
      argv,
      { database: { type: "string" } },
      { positionals: true },
    );
    const [path, ...extra] = positionals;
    if (path === undefined) throw new UsageError("give the data directory to import (PATH)");
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra.join(" ")}'`);
    const { databaseUrl } = locationOf(values, io.env);
    if (!databaseUrl) {
      throw new UsageError(
        "give the PostgreSQL to fill: --database URL or SPENDGUARD_DATABASE_URL",
      );
    }
    printSummary(io, await importSqliteLedger(path, databaseUrl));
    return 0;
  },
};

function printSummary(io: CliIO, result: LedgerImport): void {
  const style = styleFor(io.stdout, io.env);
  const count = (name: string) => result.rows[name] ?? 0;
  const open = [
    result.unknownAdmissions > 0
      ? `${result.unknownAdmissions} unknown: they keep counting; spendguard admissions lists them`
      : "",
    result.reservedAdmissions > 0
      ? `${result.reservedAdmissions} in flight: the first server on the database reconciles them`
      : "",
  ].filter(Boolean);
  const shown = ["audit", "admissions", "sessions", "api_keys", "approvals"];
  const others = Object.entries(result.rows)
    .filter(([name]) => !shown.includes(name))
    .reduce((sum, [, rows]) => sum + rows, 0);
  const head = result.head
    ? `chain verified, head row ${result.head.seq} ${result.head.hash.slice(0, 12)}`
    : "empty chain";
  const rows = [
    ["audit rows", String(count("audit")), head],
    ["admissions", String(count("admissions")), open.join("; ")],
    ["sessions", String(count("sessions")), ""],
    ["keys", String(count("api_keys")), ""],
    ["approvals", String(count("approvals")), ""],
    ["other rows", String(others), "running totals, OAuth, holds, alerts"],
  ];
  const counts = table(["", "", ""], rows, { align: ["left", "right", "left"], indent: "  " });
  const lines = [
    `${style.green("Imported")} ${result.source} into ${result.target}:`,
    // No header line: the labels say what each row is.
    counts.slice(counts.indexOf("\n") + 1),
    "Next:",
    "  - Stop the SQLite servers on this home if they still run: what they write now is not in the copy.",
    `  - Start every server on the database: SPENDGUARD_DATABASE_URL=… spendguard serve --http`,
    "    (agent keys name their policy file by path: each host needs it at that path).",
    `  - Kill flag files (${join(dirname(result.source), "kill")}) were not copied: they act on their own host only.`,
    "    Stop sessions everywhere with spendguard kill --database URL.",
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
}
