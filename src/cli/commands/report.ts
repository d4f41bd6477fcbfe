import {
  buildView,
  type GroupView,
  type MoneyView,
  type ReportView,
} from "../../operator/report-view.js";
import type { ReportGrouping } from "../../store/store.js";
import { HOME_FLAG, homeOf, oneOf, parseFlags, parseSince } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { findSession, withStore } from "../data.js";
import { formatTime, money, styleFor, table, tolerateClosedPipe } from "../format.js";

const GROUPINGS = ["agent", "session", "tool", "day", "customer"] as const;

const USAGE = `Usage: spendguard report [--since 24h|7d|ISO] [--until ISO] [--by agent|session|tool|day|customer]
                         [--agent NAME] [--session ID] [--json] [--home DIR]

What the agents did over a period and what it cost, grouped one way:
  CALLS        tool calls (every one is an audit row)
  OK           allowed and done (repeats answered from the first result included)
  DENIED       refused by the policy (the denials by rule follow the table)
  ERRORS       malformed calls, and calls Stripe refused or did not answer
  MOVED        money moved: refunds issued, payments captured, invoices paid, as Stripe
               confirmed them, in the cap currency
  UNCONFIRMED  money reserved for calls still under way or with an unknown outcome;
               it counts against the caps until it is confirmed or released
  AT RISK      monthly recurring revenue put at risk by subscription cancellations

Options:
  --since WHEN   start of the period: 30m, 24h, 7d or an ISO date/time (default 24h)
  --until WHEN   end of the period (default now), same forms
  --by KEY       agent (default), session, tool, day (UTC) or customer
  --agent NAME   only this agent
  --session ID   only this session (a unique prefix of its id will do)
  --json         one JSON object; money in minor units of each row's cap_currency
  --home DIR     data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0, 1 if the data directory holds no database, 2 usage.
`;

export const reportCommand: CliCommand = {
  name: "report",
  summary: "money moved, revenue at risk, calls and denials over a period, grouped",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      since: { type: "string" },
      until: { type: "string" },
      by: { type: "string" },
      agent: { type: "string" },
      session: { type: "string" },
      json: { type: "boolean" },
    });
    const now = Date.now();
    const since = parseSince(values.since ?? "24h", now);
    const until = values.until === undefined ? undefined : parseSince(values.until, now);
    if (until !== undefined && until <= since) {
      throw new UsageError("--until must be later than --since");
    }
    const by = values.by === undefined ? "agent" : oneOf("by", values.by, GROUPINGS);
    const home = homeOf(values.home, io.env);
    const view = await withStore(home, async (store) => {
      const session =
        values.session === undefined ? undefined : (await findSession(store, values.session)).id;
      const report = await store.report({
        since,
        by,
        ...(until !== undefined ? { until } : {}),
        ...(values.agent !== undefined ? { agent: values.agent } : {}),
        ...(session !== undefined ? { session } : {}),
      });
      return buildView(report, {
        since,
        until,
        by,
        agent: values.agent ?? null,
        session: session ?? null,
      });
    });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    writeReport(io, view, values.since ?? "24h");
    return 0;
  },
};

/** `$227.50`, or `$20.00 + €5.00` when sessions ran under different cap currencies. */
function sum(list: MoneyView[], pick: (m: MoneyView) => number, fallback: string | null): string {
  if (list.length === 0) return money(0, fallback);
  return list.map((m) => money(pick(m), m.cap_currency)).join(" + ");
}

function keyLabel(by: ReportGrouping, key: string | null): string {
  if (key !== null) return key;
  return by === "customer" ? "(no customer)" : "(none)";
}

function writeReport(io: CliIO, view: ReportView, sinceText: string): void {
  const style = styleFor(io.stdout, io.env);
  const currencies = [
    ...new Set(view.totals.money.map((m) => m.cap_currency).filter((c) => c !== null)),
  ];
  const fallback = currencies[0] ?? null;
  const period = `since ${formatTime(view.since)} UTC${/^\d+[smhd]$/.test(sinceText) ? ` (last ${sinceText})` : ""}${view.until ? ` until ${formatTime(view.until)} UTC` : ""}`;
  const scope = [
    view.filters.agent ? `agent ${view.filters.agent}` : "",
    view.filters.session ? `session ${view.filters.session}` : "",
  ]
    .filter(Boolean)
    .join(", ");
  const lines = [
    style.bold(`Report ${period}, by ${view.by}${scope ? `, ${scope}` : ""}`),
    currencies.length > 0
      ? `Money in the cap currency: ${currencies.map((c) => c.toUpperCase()).join(", ")}.`
      : "No money-moving calls in this period.",
    "",
  ];
  io.stdout.write(lines.join("\n"));
  if (view.groups.length === 0) {
    io.stdout.write("No calls in this period.\n");
    return;
  }
  const row = (label: string, g: Omit<GroupView, "key">) => [
    label,
    String(g.calls),
    String(g.ok),
    String(g.denied),
    String(g.errors),
    sum(g.money, (m) => m.moved, fallback),
    sum(g.money, (m) => m.unconfirmed, fallback),
    sum(g.money, (m) => m.revenue_at_risk, fallback),
  ];
  const rows = view.groups.map((g) => row(keyLabel(view.by, g.key), g));
  if (view.groups.length > 1) rows.push(row("TOTAL", view.totals));
  io.stdout.write(
    table(
      [view.by.toUpperCase(), "CALLS", "OK", "DENIED", "ERRORS", "MOVED", "UNCONFIRMED", "AT RISK"],
      rows,
      {
        align: ["left", "right", "right", "right", "right", "right", "right", "right"],
        header: style.bold,
      },
    ),
  );
  const denials = view.groups.flatMap((g) =>
    g.denials.map((d) => [keyLabel(view.by, g.key), d.rule ?? "", d.code ?? "", String(d.count)]),
  );
  if (denials.length > 0) {
    io.stdout.write(`\n${style.bold("Denials by rule")}\n`);
    io.stdout.write(
      table([view.by.toUpperCase(), "RULE", "CODE", "COUNT"], denials, {
        align: ["left", "left", "left", "right"],
        header: style.bold,
      }),
    );
  }
  if (view.totals.money.some((m) => m.unconfirmed > 0)) {
    io.stdout.write(
      `\n${style.yellow("UNCONFIRMED money is still counted against the caps: the next `spendguard serve` for that agent replays those calls to settle them.")}\n`,
    );
  }
}
