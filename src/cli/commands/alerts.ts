import { type AlertsConfig, displayUrl, loadAlerts } from "../../alerts/config.js";
import { send } from "../../alerts/delivery.js";
import { testEvent } from "../../alerts/events.js";
import { type Alert, jsonBody, slackBody } from "../../alerts/payload.js";
import { alertId } from "../../alerts/rules.js";
import { readEnvironment } from "../../config.js";
import { openSqliteStore } from "../../store/sqlite/store.js";
import type { AlertDelivery, AlertDeliveryState, Store } from "../../store/store.js";
import { HOME_FLAG, homeOf, oneOf, parseCount, parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { withStore } from "../data.js";
import { formatTime, styleFor, table, terminalWidth, tolerateClosedPipe } from "../format.js";

const STATES = ["pending", "delivered", "failed"] as const;

const USAGE = `Usage: spendguard alerts [--state pending|delivered|failed] [--sink NAME] [--limit N]
                         [--alerts FILE] [--json] [--home DIR]
       spendguard alerts test [--alerts FILE] [--home DIR]

Lists the latest alert deliveries (newest first, 50 by default): which alert went to
which sink, its status (pending: waiting for its next try; delivered: the receiver
answered 2xx; failed: given up), how many attempts it took and how the last one went.
Deliveries wait in the data directory's outbox, so they survive a restart and a
receiver that is down; \`serve\` sends them, retrying with a doubling wait.

\`alerts test\` sends a test message to every sink of the alerts file now and says what
each answered (recorded as a delivery of type test).

  --state STATE   only deliveries in this state
  --sink NAME     only deliveries to this sink
  --limit N       how many (0: all)
  --alerts FILE   the alerts file (or SPENDGUARD_ALERTS): the list then shows each sink's
                  host (never its full URL: webhook URLs hold secrets)
  --json          JSON Lines, one delivery each with its attempts, for scripts
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 ok (for \`test\`: every sink answered 2xx), 1 a failure, 2 usage.
`;

export const alertsCommand: CliCommand = {
  name: "alerts",
  summary: "list alert deliveries and their status; `alerts test` pings every sink",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values, positionals } = parseFlags(
      argv,
      {
        ...HOME_FLAG,
        state: { type: "string" },
        sink: { type: "string" },
        limit: { type: "string" },
        alerts: { type: "string" },
        json: { type: "boolean" },
      },
      { positionals: true },
    );
    const home = homeOf(values.home, io.env);
    const alertsFile = values.alerts ?? readEnvironment(io.env).alertsFile;
    const [sub, ...extra] = positionals;
    if (extra.length > 0 || (sub !== undefined && sub !== "test")) {
      throw new UsageError(`unexpected ${positionals.join(" ")}: the only sub-command is test`);
    }
    if (sub === "test") {
      const given = (["state", "sink", "limit", "json"] as const).filter(
        (f) => values[f] !== undefined,
      );
      if (given.length > 0)
        throw new UsageError(`alerts test takes no ${given.map((f) => `--${f}`).join(", ")}`);
      if (!alertsFile)
        throw new UsageError("no alerts file: pass --alerts FILE or set SPENDGUARD_ALERTS");
      const config = loadAlerts(alertsFile, io.env);
      // Before the first serve too: checking the sinks is part of setting up.
      const store = openSqliteStore(home);
      try {
        return await sendTests(store, config, io);
      } finally {
        await store.close();
      }
    }
    const config = alertsFile ? loadAlerts(alertsFile, io.env) : undefined;
    const limit = values.limit === undefined ? 50 : parseCount("limit", values.limit);
    const state = values.state === undefined ? undefined : oneOf("state", values.state, STATES);
    return withStore(home, async (store) => {
      const deliveries = await store.listAlertDeliveries({
        ...(state ? { state } : {}),
        ...(values.sink ? { sink: values.sink } : {}),
        ...(limit > 0 ? { limit } : {}),
      });
      if (values.json) {
        for (const delivery of deliveries) {
          io.stdout.write(`${JSON.stringify(await jsonView(store, delivery))}\n`);
        }
        return 0;
      }
      io.stdout.write(listing(deliveries, config, io));
      return 0;
    });
  },
};

/** One test message per sink, sent now; recorded as a delivery with its one attempt. */
async function sendTests(store: Store, config: AlertsConfig, io: CliIO): Promise<number> {
  let failed = 0;
  for (const sink of config.sinks) {
    const now = Date.now();
    const event = testEvent(now, sink.name);
    const alert: Alert = { id: alertId("test", event.key), rule: "test", event };
    const body = sink.format === "slack" ? slackBody(alert) : jsonBody(alert);
    const result = await send(sink, body, now);
    const delivery = await store.enqueueAlert(
      {
        alert: alert.id,
        sink: sink.name,
        type: "test",
        rule: "test",
        agent: null,
        cooldown_key: `test|${sink.name}`,
        event_at: now,
        summary: event.summary,
        body,
        created_at: now,
      },
      0,
    );
    if (delivery) {
      await store.recordAlertAttempt(
        {
          delivery: delivery.id,
          at: now,
          status: result.status,
          error: result.error,
          duration_ms: Math.round(result.durationMs * 1000) / 1000,
        },
        { state: result.error === null ? "delivered" : "failed", next_attempt_at: now },
      );
    }
    const where = `${sink.name} (${sink.format}, ${displayUrl(sink.url)}${sink.secret ? ", signed" : ""})`;
    if (result.error === null) {
      io.stdout.write(
        `ok      ${where}: HTTP ${result.status} in ${Math.round(result.durationMs)} ms\n`,
      );
    } else {
      failed++;
      io.stdout.write(`FAILED  ${where}: ${result.error}\n`);
    }
  }
  io.stdout.write(
    failed === 0
      ? `Every sink answered (${config.sinks.length}).\n`
      : `${failed} of ${config.sinks.length} sink(s) did not answer 2xx.\n`,
  );
  return failed === 0 ? 0 : 1;
}

function listing(
  deliveries: readonly AlertDelivery[],
  config: AlertsConfig | undefined,
  io: CliIO,
): string {
  if (deliveries.length === 0) return "No alert deliveries.\n";
  const style = styleFor(io.stdout, io.env);
  const paint: Record<AlertDeliveryState, (text: string) => string> = {
    pending: style.yellow,
    delivered: style.green,
    failed: style.red,
  };
  const hosts = new Map(config?.sinks.map((sink) => [sink.name, displayUrl(sink.url)]) ?? []);
  const rows = deliveries.map((d) => [
    d.id,
    formatTime(d.created_at),
    d.type,
    d.rule,
    hosts.has(d.sink) ? `${d.sink} ${hosts.get(d.sink)}` : d.sink,
    paint[d.state](d.state),
    String(d.attempts),
    lastAttempt(d),
    printable(d.summary),
  ]);
  return `${table(
    ["DELIVERY", "QUEUED (UTC)", "TYPE", "RULE", "SINK", "STATUS", "TRIES", "LAST", "SUMMARY"],
    rows,
    {
      align: ["left", "left", "left", "left", "left", "left", "right"],
      header: style.bold,
      ...maxWidth(io),
    },
  )}\n`;
}

function maxWidth(io: CliIO): { maxWidth?: number } {
  const width = terminalWidth(io.stdout);
  return width === undefined ? {} : { maxWidth: width };
}

/** `HTTP 200`, `HTTP 500 (retry 09:14:07)`, `ECONNREFUSED …`, or `-` before the first. */
function lastAttempt(d: AlertDelivery): string {
  if (d.attempts === 0) return "-";
  const what =
    d.last_error === null ? `HTTP ${d.last_status}` : printable(d.last_error).slice(0, 40);
  return d.state === "pending"
    ? `${what} (retry ${formatTime(d.next_attempt_at).slice(11)})`
    : what;
}

/** Control characters (a receiver's answer is outside text) shown as `?`. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

async function jsonView(store: Store, d: AlertDelivery) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: d.id,
    alert: d.alert,
    type: d.type,
    rule: d.rule,
    sink: d.sink,
    agent: d.agent,
    status: d.state,
    attempts: d.attempts,
    created_at: iso(d.created_at),
    event_at: iso(d.event_at),
    next_attempt_at: d.state === "pending" ? iso(d.next_attempt_at) : null,
    delivered_at: iso(d.delivered_at),
    last_status: d.last_status,
    last_error: d.last_error,
    summary: d.summary,
    body: JSON.parse(d.body) as unknown,
    tries: (await store.listAlertAttempts(d.id)).map((a) => ({
      at: iso(a.at),
      status: a.status,
      error: a.error,
      duration_ms: a.duration_ms,
    })),
  };
}
