import { printable } from "../../audit/text.js";
import { ConfigError } from "../../errors.js";
import { knownPolicies } from "../../operator/known-policies.js";
import type { LoadedPolicy } from "../../policy/load.js";
import type { SessionState, SessionSummary } from "../../store/store.js";
import { HOME_FLAG, homeOf, oneOf, parseCount, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { withStore } from "../data.js";
import { formatTime, money, styleFor, table, tolerateClosedPipe } from "../format.js";

const STATES = ["active", "killed", "expired", "ended"] as const;

const USAGE = `Usage: spendguard sessions [--state active|killed|expired|ended] [--agent NAME]
                           [--empty] [--limit N] [--policy FILE]… [--json] [--home DIR]

Lists guard sessions, newest first: id, agent, policy, state, when it started, calls
and denials, money counted against its caps (settled + reserved + unknown, in the cap
currency) and what is LEFT of its per-session cap.

LEFT needs the policy the session ran under: spendguard finds it by its hash among the
files given with --policy, SPENDGUARD_POLICY and the ready policies in policies/.
A session whose policy file has changed since it started (or is not found) shows "?".

Sessions that never made a tool call (a client that connected and left, or opened a
spare session) are not listed unless --empty is given.

Options:
  --state STATE   only sessions in this state (a session past its session_ttl that has
                  made no call since still reads active in the database; shown expired)
  --agent NAME    only this agent's sessions
  --empty         also list sessions that never made a tool call
  --limit N       at most N sessions (default 50; 0 for all)
  --policy FILE   a policy file to compute LEFT from (repeatable)
  --json          one JSON array; money in minor units of cap_currency
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0, 1 if the data directory holds no database, 2 usage.
`;

interface SessionView {
  id: string;
  agent: string;
  policy: string;
  policy_hash: string;
  state: SessionState;
  started_at: string;
  expires_at: string | null;
  state_changed_at: string | null;
  killed_by: string | null;
  kill_reason: string | null;
  calls: number;
  denied: number;
  last_call_at: string | null;
  cap_currency: string | null;
  spent: number;
  /** `null`: the policy is not known (or has no per-session cap: see `per_session`). */
  per_session: number | null;
  left: number | null;
  /** Whether LEFT could be computed: the policy with this hash was found. */
  policy_known: boolean;
}

export const sessionsCommand: CliCommand = {
  name: "sessions",
  summary: "list sessions: state, agent, calls, money spent and left",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      state: { type: "string" },
      agent: { type: "string" },
      limit: { type: "string" },
      policy: { type: "string", multiple: true },
      json: { type: "boolean" },
      empty: { type: "boolean" },
    });
    const withEmpty = values.empty ?? false;
    const state = values.state === undefined ? undefined : oneOf("state", values.state, STATES);
    const limit = values.limit === undefined ? 50 : parseCount("limit", values.limit);
    const policies = policiesFor([
      ...(values.policy ?? []),
      ...(io.env.SPENDGUARD_POLICY ? [io.env.SPENDGUARD_POLICY] : []),
    ]);
    const now = Date.now();
    const home = homeOf(values.home, io.env);
    const { views, hidden } = await withStore(home, async (store) => {
      // "expired" is decided on the session's next call; show it as it is now.
      // A limit can go to the query unless some rows may be set aside after it.
      const exact = withEmpty && (state === "killed" || state === "ended" || state === undefined);
      const rows = await store.sessionSummaries({
        ...(state && state !== "expired" ? { state } : {}),
        ...(values.agent ? { agent: values.agent } : {}),
        ...(exact && limit > 0 ? { limit } : {}),
      });
      const matching = rows
        .map((row) => view(row, policies, now))
        .filter((v) => state === undefined || v.state === state);
      const shown = withEmpty ? matching : matching.filter((v) => v.calls > 0);
      return {
        views: shown.slice(0, limit === 0 ? undefined : limit),
        hidden: matching.length - shown.length,
      };
    });
    const hiddenNote =
      hidden > 0
        ? `(${hidden} session(s) that never made a tool call not shown; --empty shows them)`
        : undefined;

    if (values.json) {
      io.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      return 0;
    }
    const style = styleFor(io.stdout, io.env);
    if (views.length === 0) {
      io.stdout.write(`No sessions${state ? ` in state ${state}` : ""} in ${home}.\n`);
      if (hiddenNote) io.stdout.write(`${style.dim(hiddenNote)}\n`);
      return 0;
    }
    const paintState = (s: SessionState, text: string) =>
      s === "active" ? style.green(text) : s === "killed" ? style.red(text) : style.dim(text);
    const rows = views.map((v) => [
      v.id,
      v.agent,
      v.policy,
      v.state,
      formatTime(v.started_at),
      String(v.calls),
      String(v.denied),
      money(v.spent, v.cap_currency),
      v.left !== null ? money(v.left, v.cap_currency) : v.policy_known ? "no cap" : "?",
    ]);
    io.stdout.write(
      table(
        [
          "SESSION",
          "AGENT",
          "POLICY",
          "STATE",
          "STARTED (UTC)",
          "CALLS",
          "DENIED",
          "SPENT",
          "LEFT",
        ],
        rows,
        {
          align: ["left", "left", "left", "left", "left", "right", "right", "right", "right"],
          header: style.bold,
          paint: (text, row, column) =>
            column === 3 ? paintState((views[row] as (typeof views)[number]).state, text) : text,
        },
      ),
    );
    const killed = views.filter((v) => v.state === "killed");
    for (const v of killed) {
      io.stdout.write(
        `${style.dim(printable(`${v.id} killed by ${v.killed_by ?? "?"}: ${v.kill_reason ?? "(no reason)"}`))}\n`,
      );
    }
    if (views.some((v) => !v.policy_known)) {
      io.stdout.write(
        `${style.dim("? = the policy file this session ran under was not found (or has changed since); pass it with --policy FILE.")}\n`,
      );
    }
    if (hiddenNote) io.stdout.write(`${style.dim(hiddenNote)}\n`);
    if (limit !== 0 && views.length === limit) {
      io.stdout.write(`${style.dim(`(the ${limit} newest; --limit 0 shows all)`)}\n`);
    }
    return 0;
  },
};

/** Policies by hash: those named (a broken one is a usage mistake), and the ready ones. */
function policiesFor(files: readonly string[]): Map<string, LoadedPolicy> {
  try {
    return knownPolicies(files);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--policy: ${error.message}`);
    throw error;
  }
}

function view(row: SessionSummary, policies: Map<string, LoadedPolicy>, now: number): SessionView {
  const policy = policies.get(row.policy_hash);
  const expired = row.state === "active" && row.expires_at !== null && now >= row.expires_at;
  const perSession = policy?.caps.perSession ?? null;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    agent: row.agent,
    policy: row.policy_name,
    policy_hash: row.policy_hash,
    state: expired ? "expired" : row.state,
    started_at: new Date(row.started_at).toISOString(),
    expires_at: iso(row.expires_at),
    state_changed_at: iso(row.state_changed_at),
    killed_by: row.killed_by,
    kill_reason: row.kill_reason,
    calls: row.calls,
    denied: row.denied,
    last_call_at: row.last_call_at,
    cap_currency: row.cap_currency ?? policy?.caps.currency ?? null,
    spent: row.spent,
    per_session: perSession,
    left: perSession === null ? null : Math.max(0, perSession - row.spent),
    policy_known: policy !== undefined,
  };
}
