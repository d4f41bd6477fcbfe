import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../errors.js";
import { ALL_SESSIONS } from "../../guard/kill.js";
import { type KillOutcome, stopSessions } from "../../operator/kill-switch.js";
import { DATABASE_FILE, openSqliteStore } from "../../store/sqlite/store.js";
import type { Store } from "../../store/store.js";
import { HOME_FLAG, homeOf, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { findSession, openExistingStore } from "../data.js";
import { tolerateClosedPipe } from "../format.js";

const USAGE = `Usage: spendguard kill SESSION_ID [--reason TEXT]
       spendguard kill --agent NAME [--reason TEXT]
       spendguard kill --all [--reason TEXT]

Stops sessions on their very next tool call, in every process using this data
directory: the session is marked killed in the database and a flag file is written
($SPENDGUARD_HOME/kill/<session-id>, or kill/ALL), the reason as its content. The agent
is told "This session was stopped by the operator (REASON)". A killed session never
comes back; the agent's next session starts fresh.

  SESSION_ID      a session id as \`spendguard sessions\` shows it (a unique prefix will do)
  --agent NAME    every active session of this agent
  --all           every active session, and (through kill/ALL) every session started
                  later, until you remove the flag: rm "$SPENDGUARD_HOME/kill/ALL"
  --reason TEXT   why, shown to the agent and kept in the session and audit
                  (default: "${defaultReason()}")
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 done (or nothing left to kill), 1 no such session or agent, 2 usage.
`;

function defaultReason(): string {
  return "stopped by the operator from the CLI";
}

/** What `spendguard kill` names: a session id (or a unique prefix), an agent, or all. */
export type KillTarget = { session: string } | { agent: string } | { all: true };

/**
 * The operator's kill, as `spendguard kill` does it (the demo calls this too), by `cli`:
 * see `stopSessions`, which the operator tools share.
 */
export async function killFromCli(
  store: Store,
  home: string,
  target: KillTarget,
  reason: string,
): Promise<KillOutcome> {
  const request = { by: "cli", reason };
  if ("session" in target) {
    return await stopSessions(
      store,
      home,
      { session: await findSession(store, target.session) },
      request,
    );
  }
  if (
    "agent" in target &&
    (await store.listSessions({ agent: target.agent, limit: 1 })).length === 0
  ) {
    throw new ConfigError(
      `no session of agent '${target.agent}' in this data directory; \`spendguard sessions\` lists the agents.`,
    );
  }
  return await stopSessions(store, home, target, request);
}

export const killCommand: CliCommand = {
  name: "kill",
  summary: "stop a session, an agent's sessions, or all of them, on their next call",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values, positionals } = parseFlags(
      argv,
      {
        ...HOME_FLAG,
        agent: { type: "string" },
        all: { type: "boolean" },
        reason: { type: "string" },
      },
      { positionals: true },
    );
    if (positionals.length > 1) {
      throw new UsageError(
        `give one session id, got ${positionals.length}: ${positionals.join(" ")}`,
      );
    }
    const chosen = [positionals.length > 0, values.agent !== undefined, values.all === true];
    if (chosen.filter(Boolean).length !== 1) {
      throw new UsageError("say what to kill: a SESSION_ID, --agent NAME or --all (one of them)");
    }
    const reason = values.reason?.trim() || defaultReason();
    const home = homeOf(values.home, io.env);
    const target: KillTarget = positionals[0]
      ? { session: positionals[0] }
      : values.agent !== undefined
        ? { agent: values.agent }
        : { all: true };

    // `--all` also guards sessions yet to start, so it works on a data directory no
    // server has used yet; the others need sessions to exist.
    const store =
      "all" in target && !existsSync(join(home, DATABASE_FILE))
        ? openSqliteStore(home)
        : openExistingStore(home);
    try {
      const outcome = await killFromCli(store, home, target, reason);
      io.stdout.write(describeKill(target, outcome, home, reason));
      return 0;
    } finally {
      await store.close();
    }
  },
};

/** What `spendguard kill` prints about what it did. */
export function describeKill(
  target: KillTarget,
  outcome: KillOutcome,
  home: string,
  reason: string,
): string {
  const lines: string[] = [];
  if (outcome.notActive) {
    const s = outcome.notActive;
    const by = s.killed_by ? ` by ${s.killed_by}` : "";
    const why = s.kill_reason ? ` (${s.kill_reason})` : "";
    lines.push(`Session ${s.id} is already ${s.state}${by}${why}: nothing to kill.`);
  } else if ("session" in target) {
    lines.push(
      `Killed session ${outcome.killed[0] ?? ""}: its next call is refused (session_killed).`,
    );
  } else if ("agent" in target) {
    lines.push(
      outcome.killed.length === 0
        ? `Agent '${target.agent}' has no active session: nothing to kill.`
        : `Killed ${outcome.killed.length} active session(s) of agent '${target.agent}': ${outcome.killed.join(", ")}.`,
      "Sessions this agent starts later are not affected; use --all to refuse every new session.",
    );
  } else {
    lines.push(
      `Killed ${outcome.killed.length} active session(s)${outcome.killed.length ? `: ${outcome.killed.join(", ")}` : ""}.`,
      `Every session started from now on is refused too, until you remove the flag: rm "${join(home, "kill", ALL_SESSIONS)}"`,
    );
  }
  if (!outcome.notActive) {
    lines.push(`Reason: ${reason}`);
    for (const flag of outcome.flags) lines.push(`Flag written: ${flag}`);
  }
  return `${lines.join("\n")}\n`;
}
