import { randomBytes } from "node:crypto";
import { cleanReason } from "../audit/text.js";
import { SpendguardError } from "../errors.js";
import type { LoadedPolicy } from "../policy/load.js";
import type { SessionRecord, Store } from "../store/store.js";

/**
 * Guard sessions: stdio has one per process, HTTP one per MCP session. A session only
 * ever leaves `active` — killed, expired or ended — and never comes back. A session of
 * a held (paused) agent is killed as it starts, with the hold's reason.
 */

export interface StartSession {
  policy: LoadedPolicy;
  /** Who the agent is; defaults to the policy name (one role, one agent). */
  agent?: string;
  now?: number;
}

function newSessionId(): string {
  return `ses_${randomBytes(12).toString("hex")}`;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Opens a session, unless the agent has opened `sessions_per_day` already in the last
 * 24 hours (`session_limit`): a fresh session would be a fresh session cap.
 */
export async function startSession(
  store: Store,
  { policy, agent, now = Date.now() }: StartSession,
): Promise<SessionRecord> {
  const name = agent ?? policy.name;
  const limit = policy.policy.sessions_per_day;
  if (limit !== undefined) {
    const opened = (await store.listSessions({ agent: name })).filter(
      (s) => s.started_at > now - DAY_MS,
    ).length;
    if (opened >= limit) {
      throw new SpendguardError(
        "session_limit",
        `Agent '${name}' has opened ${opened} sessions in the last 24 hours, the most its policy allows (sessions_per_day: ${limit}).`,
        "Keep using the session you have; the operator can raise sessions_per_day.",
      );
    }
  }
  const session: SessionRecord = {
    id: newSessionId(),
    agent: name,
    policy_name: policy.name,
    policy_hash: policy.hash,
    started_at: now,
    expires_at: policy.sessionTtlMs === null ? null : now + policy.sessionTtlMs,
    state: "active",
    state_changed_at: null,
    killed_by: null,
    kill_reason: null,
  };
  await store.createSession(session);
  // Checked after the insert: a hold that began meanwhile killed this session already,
  // and one that began before is seen here, so no session of a held agent stays active.
  const hold = await store.agentHold(session.agent);
  if (hold && hold.released_at === null) {
    const change = { state: "killed" as const, at: now, by: hold.held_by, reason: hold.reason };
    if (await store.changeSessionState(session.id, change)) {
      return {
        ...session,
        state: change.state,
        state_changed_at: now,
        killed_by: hold.held_by,
        kill_reason: hold.reason,
      };
    }
  }
  return session;
}

export interface KillRequest {
  /** Who kills: `operator`, `cli`, `flag-file`, an operator key's name. */
  by: string;
  reason: string;
  now?: number;
}

/** Effective on the session's very next call. False if it was not active. */
export async function killSession(
  store: Store,
  id: string,
  { by, reason, now = Date.now() }: KillRequest,
): Promise<boolean> {
  return await store.changeSessionState(id, {
    state: "killed",
    at: now,
    by,
    reason: cleanReason(reason),
  });
}

/** Kills every active session of one agent; returns their ids. */
export async function killAgent(
  store: Store,
  agent: string,
  { by, reason, now = Date.now() }: KillRequest,
): Promise<string[]> {
  return await store.killActiveSessions(
    { state: "killed", at: now, by, reason: cleanReason(reason) },
    agent,
  );
}

/**
 * Kills every active session in this data directory; returns their ids. Sessions started
 * later are not affected: the `kill/ALL` flag file (see `kill.ts`) stops those too.
 */
export async function killAll(
  store: Store,
  { by, reason, now = Date.now() }: KillRequest,
): Promise<string[]> {
  return await store.killActiveSessions({
    state: "killed",
    at: now,
    by,
    reason: cleanReason(reason),
  });
}

/** The agent ends its own session (`end_session`); it can never be reopened. */
export async function endSession(
  store: Store,
  id: string,
  reason: string,
  now = Date.now(),
): Promise<boolean> {
  return await store.changeSessionState(id, {
    state: "ended",
    at: now,
    by: "agent",
    reason: cleanReason(reason),
  });
}
