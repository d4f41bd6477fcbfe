import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanReason } from "../audit/text.js";

/**
 * Kill flags: `$SPENDGUARD_HOME/kill/<session-id>` stops one session, `kill/ALL` every
 * session, the file's content being the reason. Checking costs two `stat`s, so the guard
 * checks on every call and again just before a Stripe write leaves.
 */

export const ALL_SESSIONS = "ALL";

export interface KillFlag {
  /** The flag file found. */
  file: string;
  reason: string;
}

const SAFE_TARGET = /^[A-Za-z0-9_-]+$/;

function flagFile(home: string, target: string): string {
  if (!SAFE_TARGET.test(target)) throw new RangeError(`not a session id: ${target}`);
  return join(home, "kill", target);
}

/** The flag that stops `sessionId` (its own first, then ALL), or `null`. */
export function readKillFlag(home: string, sessionId: string): KillFlag | null {
  for (const target of [sessionId, ALL_SESSIONS]) {
    const file = flagFile(home, target);
    if (!existsSync(file)) continue;
    let reason = "";
    try {
      reason = readFileSync(file, "utf8");
    } catch {
      // Present but unreadable (removed meanwhile, or a directory): still a kill.
    }
    return { file, reason: cleanReason(reason) || `kill flag ${target}` };
  }
  return null;
}

/** For the CLI and operator tools: stops a session (or every session with `ALL`). */
export function writeKillFlag(home: string, target: string, reason: string): string {
  const file = flagFile(home, target);
  mkdirSync(join(home, "kill"), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${cleanReason(reason)}\n`, { mode: 0o600 });
  return file;
}

/** Removing a flag stops future sessions from being refused; a killed session stays killed. */
export function removeKillFlag(home: string, target: string): boolean {
  const file = flagFile(home, target);
  if (!existsSync(file)) return false;
  rmSync(file, { force: true });
  return true;
}
