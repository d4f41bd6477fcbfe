import { canonicalJson } from "./canonical.js";
import { redactValue } from "./redact.js";

/** Longest argument text an audit row keeps (an agent may send anything). */
const MAX_AUDIT_ARGS = 16_384;

/** A call's arguments as every audit row keeps them: redacted, canonical JSON, bounded. */
export function auditArgs(rawArgs: unknown): string {
  let text: string;
  try {
    text = canonicalJson(redactValue(rawArgs ?? {})) ?? "null";
  } catch {
    text = JSON.stringify("[arguments not serialisable]");
  }
  return text.length > MAX_AUDIT_ARGS
    ? JSON.stringify(`${text.slice(0, MAX_AUDIT_ARGS)}…[truncated]`)
    : text;
}
