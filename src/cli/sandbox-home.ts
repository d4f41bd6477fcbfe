import { appendFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  lockStateFile,
  readStateFile,
  SandboxStateError,
  type SavedState,
  StateInUseError,
} from "../sandbox/index.js";
import { DATABASE_FILE } from "../store/sqlite/store.js";
import type { Store } from "../store/store.js";
import { openExistingStore } from "./data.js";

/**
 * A data directory used by `serve --sandbox` holds two records of the same money: the
 * ledger (spendguard.db) and the sandbox's Stripe data (sandbox.json). They are kept
 * together, and reset together, and only when the ledger provably never saw another
 * Stripe: every session in it is listed in sandbox-sessions, written before the session.
 */

export const SANDBOX_STATE_FILE = "sandbox.json";
const SESSIONS_FILE = "sandbox-sessions";
const SESSIONS_HEADER =
  "# Sessions of this data directory that ran against its built-in Stripe sandbox\n# (serve --sandbox). `spendguard sandbox reset` resets only a ledger whose sessions are all here.\n";

/** The sandbox state file of a data directory. */
export function sandboxStateFile(home: string): string {
  return join(home, SANDBOX_STATE_FILE);
}

/** What to tell someone whose sandbox state cannot be used, with what to do about it. */
export function stateProblem(error: SandboxStateError, home: string | undefined): string {
  if (home === undefined) return error.message;
  if (error instanceof StateInUseError) {
    return `${error.message} A data directory runs one sandbox at a time: use another SPENDGUARD_HOME (or --home) for a second one.`;
  }
  return `${error.message} Or start over, the ledger with it: spendguard sandbox reset --home ${home}`;
}

/**
 * From now on, each session `store` creates is first written down as one that runs
 * against this home's sandbox. Written before the session row: a crash between the two
 * leaves a listed session that does not exist, never an unlisted one.
 */
export function noteSandboxSessions(store: Store, home: string): void {
  const file = join(home, SESSIONS_FILE);
  const create = store.createSession.bind(store);
  store.createSession = async (session) => {
    if (!existsSync(file)) appendFileSync(file, SESSIONS_HEADER, { mode: 0o600 });
    appendFileSync(file, `${session.id}\n`, { mode: 0o600 });
    await create(session);
  };
}

function notedSessions(home: string): Set<string> {
  const file = join(home, SESSIONS_FILE);
  if (!existsSync(file)) return new Set();
  return new Set(
    readFileSync(file, "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#")),
  );
}

/** What a reset would delete, or why it must not. */
export type ResetPlan =
  | { kind: "empty" }
  | { kind: "refused"; reason: string }
  | { kind: "ready"; lines: string[]; files: string[] };

/**
 * Looks at a data directory before a reset: refused when it is not a sandbox's, or when
 * its ledger holds a session that did not run against the sandbox (it may have moved
 * real money, and its audit is evidence).
 */
export async function planReset(home: string): Promise<ResetPlan> {
  const release = lockHome(home);
  if (typeof release === "string") return { kind: "refused", reason: release };
  try {
    return await inspect(home);
  } finally {
    release();
  }
}

/**
 * Deletes what a reset deletes, if the data directory is still as `planReset` found it:
 * checked again under the sandbox's lock, so no sandbox starts on it meanwhile.
 */
export async function resetHome(home: string): Promise<ResetPlan> {
  const release = lockHome(home);
  if (typeof release === "string") return { kind: "refused", reason: release };
  try {
    const plan = await inspect(home);
    if (plan.kind === "ready") for (const file of plan.files) rmSync(file, { force: true });
    return plan;
  } finally {
    release();
  }
}

/** The sandbox's lock on this home, or why it cannot be had. */
function lockHome(home: string): (() => void) | string {
  if (!existsSync(home)) return () => {};
  try {
    return lockStateFile(sandboxStateFile(home));
  } catch (error) {
    if (!(error instanceof StateInUseError)) throw error;
    return `a sandbox is running on ${home} (process ${error.holder}: a \`serve --sandbox\` or \`spendguard sandbox\` using it). Stop it first.`;
  }
}

async function inspect(home: string): Promise<ResetPlan> {
  const state = sandboxStateFile(home);
  const sessionsFile = join(home, SESSIONS_FILE);
  const database = join(home, DATABASE_FILE);
  const present = [state, sessionsFile, database].filter((file) => existsSync(file));
  if (present.length === 0) return { kind: "empty" };
  if (!existsSync(state) && !existsSync(sessionsFile)) {
    return {
      kind: "refused",
      reason: `${home} has a ledger but no sandbox state (no ${SANDBOX_STATE_FILE}): it is not a data directory \`serve --sandbox\` made, so it is left as it is.`,
    };
  }
  const lines = [`  ${state}: ${describeState(state)}`];
  if (existsSync(database)) {
    const store = openExistingStore(home);
    try {
      const noted = notedSessions(home);
      const sessions = await store.listSessions({});
      const foreign = sessions.filter((session) => !noted.has(session.id));
      if (foreign.length > 0) {
        const shown = foreign
          .slice(0, 5)
          .map(
            (s) => `  ${s.id}  agent ${s.agent}  started ${new Date(s.started_at).toISOString()}`,
          );
        return {
          kind: "refused",
          reason: [
            `${home} holds ${foreign.length} session(s) that did not run against its sandbox (not \`serve --sandbox\`): they may have reached real Stripe, and their audit is kept:`,
            ...shown,
            ...(foreign.length > 5 ? [`  … and ${foreign.length - 5} more`] : []),
            "Use another SPENDGUARD_HOME for the sandbox, or move these files away yourself.",
          ].join("\n"),
        };
      }
      const keys = await store.listApiKeys();
      lines.push(
        `  ${database}: the ledger, ${sessions.length} session(s), ${(await store.auditHead())?.seq ?? 0} audit row(s), ${keys.length} key(s)${keys.length > 0 ? ` (${keys.map((k) => `${k.id} ${k.kind} ${k.name}`).join(", ")})` : ""}`,
      );
    } finally {
      await store.close();
    }
  }
  const files = [
    state,
    sessionsFile,
    ...["", "-wal", "-shm", "-journal"].map((suffix) => `${database}${suffix}`),
  ];
  return { kind: "ready", lines, files };
}

function describeState(file: string): string {
  if (!existsSync(file)) return "no sandbox state";
  let saved: SavedState | undefined;
  try {
    saved = readStateFile(file);
  } catch (error) {
    if (!(error instanceof SandboxStateError)) throw error;
    return "the sandbox's Stripe data (unreadable, it is replaced anyway)";
  }
  if (!saved) return "no sandbox state";
  const { refunds, charges, customers } = saved.objects;
  return `the sandbox's Stripe data (seed ${saved.seed}), ${customers.length} customer(s), ${charges.length} charge(s), ${refunds.length} refund(s)`;
}
