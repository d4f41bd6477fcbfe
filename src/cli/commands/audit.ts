import { join } from "node:path";
import { verifyAudit } from "../../audit/chain.js";
import { AUDIT_CSV_HEADER, auditCsv, auditJson } from "../../audit/export.js";
import { printable } from "../../audit/text.js";
import { amountOf, resultOf, scanAudit } from "../../operator/audit-rows.js";
import { DATABASE_FILE } from "../../store/sqlite/store.js";
import type { AuditFilter, AuditRecord, Store } from "../../store/store.js";
import {
  HOME_FLAG,
  homeOf,
  oneOf,
  outputFormat,
  parseCount,
  parseFlags,
  parseSince,
} from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { findSession, withStore } from "../data.js";
import {
  formatTime,
  type Style,
  shortId,
  styleFor,
  table,
  terminalWidth,
  tolerateClosedPipe,
  writeLine,
} from "../format.js";

const DECISIONS = ["allow", "deny", "error"] as const;
const DEFAULT_TABLE_ROWS = 50;
/** How often `--follow` looks for new rows: a kill or a cap denial shows within this. */
const FOLLOW_INTERVAL_MS = 500;

const USAGE = `Usage: spendguard audit [--session ID] [--agent NAME] [--tool NAME]
                        [--decision allow|deny|error] [--since 24h|ISO] [--limit N]
                        [--json | --csv] [--follow] [--home DIR]
       spendguard audit verify [--json] [--home DIR]

Shows the audit: one row per tool call (allowed, denied, malformed or failed), oldest
first. By default a table of the ${DEFAULT_TABLE_ROWS} most recent rows matching the filters; --json
(JSON Lines, one row per line) and --csv stream every matching row, with every column
(arguments, idempotency key, Stripe request id, hashes), for export.

\`audit verify\` checks the hash chain over the whole audit and names the first row that
was edited, removed, inserted or reordered.

Filters (all must hold):
  --session ID          one session (a unique prefix of its id will do)
  --agent NAME          one agent
  --tool NAME           one tool, e.g. issue_refund
  --decision D          allow, deny or error
  --since WHEN          rows at or after: 30m, 24h, 7d, or an ISO date/time
  --limit N             the N most recent matching rows (table default ${DEFAULT_TABLE_ROWS};
                        exports default to all; 0 means all)

Output:
  --json                JSON Lines (with verify: one JSON object)
  --csv                 CSV with a header row
  --follow              after the matching rows, keep printing new ones as they are
                        written (by any process on this data directory) until Ctrl-C
  --home DIR            data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Amounts: AMOUNT is what the call moves in its own currency, with the cap-currency
figure the caps counted when it differs.

Exit code: 0 ok; 1 the chain is broken (verify) or there is no database; 2 usage.
`;

export const auditCommand: CliCommand = {
  name: "audit",
  summary: "show, export (JSON Lines, CSV) or verify the audit of every tool call",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values, positionals } = parseFlags(
      argv,
      {
        ...HOME_FLAG,
        session: { type: "string" },
        agent: { type: "string" },
        tool: { type: "string" },
        decision: { type: "string" },
        since: { type: "string" },
        limit: { type: "string" },
        json: { type: "boolean" },
        csv: { type: "boolean" },
        follow: { type: "boolean" },
      },
      { positionals: true },
    );
    const home = homeOf(values.home, io.env);
    if (positionals.length > 0) {
      if (positionals[0] !== "verify" || positionals.length > 1) {
        throw new UsageError(
          `unexpected argument '${positionals.join(" ")}' (did you mean verify?)`,
        );
      }
      const filters = [
        "session",
        "agent",
        "tool",
        "decision",
        "since",
        "limit",
        "csv",
        "follow",
      ] as const;
      const given = filters.filter((flag) => values[flag] !== undefined);
      if (given.length > 0) {
        throw new UsageError(
          `audit verify checks the whole chain; it takes no --${given.join(", --")}`,
        );
      }
      return withStore(home, async (store) => await verify(store, io, home, values.json === true));
    }

    const format = outputFormat(values);
    const decision =
      values.decision === undefined ? undefined : oneOf("decision", values.decision, DECISIONS);
    const since =
      values.since === undefined ? undefined : new Date(parseSince(values.since)).toISOString();
    const limitFlag = values.limit === undefined ? undefined : parseCount("limit", values.limit);
    const limit = limitFlag ?? (format === "table" ? DEFAULT_TABLE_ROWS : 0);

    return withStore(home, async (store) => {
      const filter: AuditFilter = {
        ...(values.session !== undefined
          ? { session: (await findSession(store, values.session)).id }
          : {}),
        ...(values.agent !== undefined ? { agent: values.agent } : {}),
        ...(values.tool !== undefined ? { tool: values.tool } : {}),
        ...(decision !== undefined ? { decision } : {}),
        ...(since !== undefined ? { since } : {}),
      };
      // Read before the rows: whatever is appended after them has a larger seq.
      const headBefore = (await store.auditHead())?.seq ?? 0;
      const rows =
        limit > 0 ? await store.queryAudit({ ...filter, limit }) : await scanAudit(store, filter);
      const print = printerFor(format, io, home, limitFlag === undefined ? limit : 0);
      let last = headBefore;
      const seen = async function* (all: AuditRows) {
        for await (const row of all) {
          last = Math.max(last, row.seq);
          yield row;
        }
      };
      if (!(await print(seen(rows), { first: true }))) return 0;
      if (values.follow !== true) return 0;
      io.stderr.write("Following: new rows appear as they are written (Ctrl-C to stop).\n");
      return follow(store, filter, last, print);
    });
  },
};

/** Prints rows in one output format; false once the reader has gone (a closed pipe). */
type Printer = (rows: AuditRows, options?: { first?: boolean }) => Promise<boolean>;

/** Rows read at once (a limited query) or streamed from the store (an export of them all). */
type AuditRows = Iterable<AuditRecord> | AsyncIterable<AuditRecord>;

function printerFor(
  format: "table" | "json" | "csv",
  io: CliIO,
  home: string,
  defaultLimit: number,
): Printer {
  if (format === "json") {
    return async (rows) => {
      for await (const row of rows) {
        if (!(await writeLine(io.stdout, JSON.stringify(auditJson(row))))) return false;
      }
      return true;
    };
  }
  if (format === "csv") {
    return async (rows, { first = false } = {}) => {
      if (first && !(await writeLine(io.stdout, AUDIT_CSV_HEADER))) return false;
      for await (const row of rows) {
        if (!(await writeLine(io.stdout, auditCsv(row)))) return false;
      }
      return true;
    };
  }
  return async (rows, { first = false } = {}) => {
    const all: AuditRecord[] = [];
    for await (const row of rows) all.push(row);
    writeTable(io, all, home, first ? defaultLimit : 0, first);
    return true;
  };
}

/** Polls for rows after `last` and prints them, until SIGINT/SIGTERM or the reader goes. */
async function follow(
  store: Store,
  filter: AuditFilter,
  last: number,
  print: Printer,
): Promise<number> {
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, FOLLOW_INTERVAL_MS);
      });
      if (stopped) break;
      const rows = await store.queryAudit({ ...filter, afterSeq: last });
      if (rows.length === 0) continue;
      last = rows[rows.length - 1]?.seq ?? last;
      if (!(await print(rows))) break;
    }
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

function paintResult(style: Style, row: AuditRecord, text: string): string {
  if (row.decision === "deny") return style.yellow(text);
  if (row.decision === "error" || row.outcome === "failed" || row.outcome === "unknown") {
    return style.red(text);
  }
  return style.green(text);
}

function writeTable(
  io: CliIO,
  rows: AuditRecord[],
  home: string,
  defaultLimit: number,
  withHeader = true,
): void {
  if (rows.length === 0) {
    if (withHeader) io.stdout.write(`No audit rows match in ${join(home, DATABASE_FILE)}.\n`);
    return;
  }
  const style = styleFor(io.stdout, io.env);
  const detailOf = (row: AuditRecord) => (row.outcome === "ok" ? "" : (row.reason ?? ""));
  const cells = rows.map((row) => [
    String(row.seq),
    formatTime(row.at),
    shortId(row.session),
    row.agent,
    row.tool,
    resultOf(row),
    amountOf(row),
    row.customer ?? "",
  ]);
  const headers = ["SEQ", "TIME (UTC)", "SESSION", "AGENT", "TOOL", "RESULT", "AMOUNT", "CUSTOMER"];
  const align = ["right", "left", "left", "left", "left", "left", "right", "left"] as const;
  const width = terminalWidth(io.stdout);
  const paint = (text: string, row: number, column: number) =>
    column === 5 ? paintResult(style, rows[row] as AuditRecord, text) : text;
  const text = table(headers, cells, { align: [...align], header: style.bold, paint });
  const widest = Math.max(...text.split("\n").map((l) => l.length));
  if (width === undefined || width - widest >= 50) {
    // Room for the reason as a last column (always, when not on a terminal: grep finds it).
    const wide = table(
      [...headers, "DETAIL"],
      cells.map((row, i) => [...row, detailOf(rows[i] as AuditRecord)]),
      {
        align: [...align, "left"],
        header: style.bold,
        paint,
        ...(width ? { maxWidth: width } : {}),
      },
    );
    // Rows that follow a printed table (--follow) come without the header line again.
    io.stdout.write(withHeader ? wide : wide.slice(wide.indexOf("\n") + 1));
  } else {
    // A narrow terminal: the reason goes on its own line under its row.
    const lines = text.trimEnd().split("\n");
    const out = withHeader ? [lines[0] ?? ""] : [];
    rows.forEach((row, i) => {
      out.push(lines[i + 1] ?? "");
      const detail = printable(detailOf(row));
      if (detail) {
        const room = Math.max(20, width - 7);
        out.push(
          style.dim(`      ${detail.length > room ? `${detail.slice(0, room - 1)}…` : detail}`),
        );
      }
    });
    io.stdout.write(`${out.join("\n")}\n`);
  }
  if (defaultLimit > 0 && rows.length === defaultLimit) {
    io.stdout.write(
      `${style.dim(`(the ${defaultLimit} most recent matching rows; --limit N for more, --json or --csv to export all)`)}\n`,
    );
  }
}

async function verify(store: Store, io: CliIO, home: string, json: boolean): Promise<number> {
  const file = join(home, DATABASE_FILE);
  const result = await verifyAudit(store);
  if (json) {
    io.stdout.write(
      `${JSON.stringify(
        result.ok
          ? { ok: true, rows: result.rows, database: file }
          : {
              ok: false,
              rows: result.rows,
              broken_at: result.brokenAt,
              problem: result.problem,
              database: file,
            },
      )}\n`,
    );
    return result.ok ? 0 : 1;
  }
  const style = styleFor(io.stdout, io.env);
  if (result.ok) {
    io.stdout.write(
      `${style.green("audit chain ok")}: ${result.rows} row(s) verified, from the first to the recorded head (${file}).\n`,
    );
    return 0;
  }
  let found: AuditRecord | undefined;
  for await (const row of store.iterateAudit()) {
    if (row.seq === result.brokenAt) {
      found = row;
      break;
    }
    if (row.seq > result.brokenAt) break;
  }
  const lines = [
    `${style.red("audit chain BROKEN")} at row ${result.brokenAt}: ${result.problem}.`,
    ...(found
      ? [
          printable(
            `  row ${found.seq} as stored: ${formatTime(found.at)}  ${found.session}  ${found.agent}  ${found.tool}  ${resultOf(found)}  ${amountOf(found)}`.trimEnd(),
          ),
        ]
      : []),
    `  Rows before ${result.brokenAt} are intact. Keep a copy of ${file} as evidence and compare it with your exports (spendguard audit --json).`,
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
  return 1;
}
