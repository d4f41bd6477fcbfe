import { ConfigError } from "../../errors.js";
import { resolveAdmission, unresolvedAdmissions } from "../../guard/unresolved.js";
import { HOME_FLAG, homeOf, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { withStore } from "../data.js";
import { formatTime, money, styleFor, table, tolerateClosedPipe } from "../format.js";

/**
 * Writes whose outcome spendguard could not prove (Stripe's answer was lost, and reading
 * Stripe could not settle it): `spendguard admissions` lists them, `spendguard resolve`
 * records a person's ruling. Until then each keeps counting against the caps.
 */

const LIST_USAGE = `Usage: spendguard admissions [--agent NAME] [--json] [--home DIR]

Lists the writes whose outcome is not known: Stripe's answer was lost (a timeout, a
reset, a crash) and neither sending the request again (only while Stripe still holds its
idempotency key, 23 h, and only if it would pass every gate now) nor reading Stripe for
its stamp (metadata[spendguard_admission] = its id) could prove whether it applied. Each
keeps counting against the caps until it is resolved: look it up in the Stripe Dashboard
(search the metadata for its id), then run spendguard resolve.

  --agent NAME   only this agent's
  --json         one JSON array; amounts in minor units
  --home DIR     data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0, 1 if the data directory holds no database, 2 usage.
`;

const RESOLVE_USAGE = `Usage: spendguard resolve ADMISSION_ID (--applied | --not-applied) --reason TEXT [--home DIR]

Records your ruling on a write spendguard could not prove (see spendguard admissions):
--applied settles it at what it reserved (it keeps counting, as money moved); --not-applied
releases it (it stops counting). Your reason and the ruling go into the audit.

  --applied       it happened (the Dashboard shows it)
  --not-applied   it did not
  --reason TEXT   why: what you checked (required)
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 done, 1 no such admission or it is not unresolved, 2 usage.
`;

export const admissionsCommand: CliCommand = {
  name: "admissions",
  summary: "list writes whose outcome is not known: they count until resolved",
  usage: LIST_USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      agent: { type: "string" },
      json: { type: "boolean" },
    });
    const home = homeOf(values.home, io.env);
    const now = Date.now();
    const rows = await withStore(
      home,
      async (store) =>
        await unresolvedAdmissions(store, now, values.agent ? { agent: values.agent } : {}),
    );
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const style = styleFor(io.stdout, io.env);
    if (rows.length === 0) {
      io.stdout.write(`No write with an unknown outcome in ${home}.\n`);
      return 0;
    }
    io.stdout.write(
      table(
        ["ADMISSION", "AGENT", "TOOL", "CUSTOMER", "AMOUNT", "STATE", "SINCE (UTC)", "SESSION"],
        rows.map((r) => [
          r.id,
          r.agent,
          r.tool,
          r.customer ?? "-",
          money(r.amount, r.currency),
          r.state,
          formatTime(r.created_at),
          r.session,
        ]),
        { align: ["left", "left", "left", "left", "right"], header: style.bold },
      ),
    );
    io.stdout.write(
      `${style.dim("Each counts against the caps until resolved: check the Stripe Dashboard for metadata spendguard_admission = its id, then spendguard resolve ID --applied|--not-applied --reason TEXT.")}\n`,
    );
    return 0;
  },
};

export const resolveCommand: CliCommand = {
  name: "resolve",
  summary: "rule on a write with an unknown outcome: applied or not applied, with a reason",
  usage: RESOLVE_USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags(
      argv,
      {
        ...HOME_FLAG,
        applied: { type: "boolean" },
        "not-applied": { type: "boolean" },
        reason: { type: "string" },
      },
      { positionals: true },
    );
    const [id, ...extra] = positionals;
    if (id === undefined) throw new UsageError("say which admission: spendguard resolve adm_…");
    if (extra.length > 0)
      throw new UsageError(`one admission at a time, got also: ${extra.join(" ")}`);
    const applied = values.applied ?? false;
    if (applied === (values["not-applied"] ?? false)) {
      throw new UsageError("say what happened: --applied or --not-applied (one of them)");
    }
    const reason = values.reason?.trim();
    if (!reason) throw new UsageError("say why: --reason TEXT (what you checked)");
    const outcome = await withStore(
      homeOf(values.home, io.env),
      async (store) =>
        await resolveAdmission(store, { id, applied, reason, by: "cli", now: Date.now() }),
    );
    if (!outcome.resolved) {
      throw new ConfigError(
        outcome.problem === "unknown"
          ? `no admission '${id}' in this data directory; \`spendguard admissions\` lists the unresolved ones.`
          : `admission ${id} is ${outcome.state ?? "resolved"}, not unresolved: nothing to rule on.`,
      );
    }
    const a = outcome.admission;
    io.stdout.write(
      applied
        ? `Resolved ${a.id} as applied: ${a.tool} ${money(a.amount, a.currency)} stays counted as money moved.\n`
        : `Resolved ${a.id} as not applied: ${a.tool} ${money(a.amount, a.currency)} no longer counts against the caps.\n`,
    );
    return 0;
  },
};
