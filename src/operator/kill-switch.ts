import { cleanReason } from "../audit/text.js";
import { ALL_SESSIONS, writeKillFlag } from "../guard/kill.js";
import { type KillRequest, killAgent, killAll, killSession } from "../guard/sessions.js";
import type { AuditEntry, SessionRecord, Store } from "../store/store.js";

/**
 * The operator's kill, whoever asks for it (`spendguard kill`, the operator tools): the
 * database marks the sessions killed, and a flag file per session (or `kill/ALL`) makes
 * sure every process on this data directory refuses their very next call.
 */

export type KillTarget = { session: SessionRecord } | { agent: string } | { all: true };

export interface KillOutcome {
  /** Sessions moved from active to killed. */
  killed: string[];
  /** Flag files written. */
  flags: string[];
  /** For a single session that was no longer active: what it is. */
  notActive?: SessionRecord;
}

export async function stopSessions(
  store: Store,
  home: string,
  target: KillTarget,
  request: KillRequest,
): Promise<KillOutcome> {
  if ("session" in target) {
    const session = target.session;
    if (session.state !== "active") return { killed: [], flags: [], notActive: session };
    const killed = (await killSession(store, session.id, request)) ? [session.id] : [];
    return { killed, flags: [writeKillFlag(home, session.id, request.reason)] };
  }
  if ("agent" in target) {
    const killed = await killAgent(store, target.agent, request);
    return { killed, flags: killed.map((id) => writeKillFlag(home, id, request.reason)) };
  }
  const killed = await killAll(store, request);
  return { killed, flags: [writeKillFlag(home, ALL_SESSIONS, request.reason)] };
}

export interface ResumeRequest {
  /** `cli`, or the operator's `operator:<name>`. */
  by: string;
  reason: string | null;
  now: number;
}

/**
 * Ends an agent's hold (an auto-pause): sessions it starts from now on work again. The
 * sessions the pause killed stay killed. `audit` is the row to write with it, for callers
 * whose action is not audited already (the operator tools audit their own calls).
 */
export async function resumeAgent(
  store: Store,
  agent: string,
  request: ResumeRequest,
  audit: AuditEntry | null,
): Promise<boolean> {
  const reason = request.reason === null ? null : cleanReason(request.reason) || null;
  const release = { agent, at: request.now, by: request.by, reason };
  return (await store.releaseAgent(release, audit)).released;
}
