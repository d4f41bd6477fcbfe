import { wellFormed } from "./text.js";

/** An audit row: one tool call (or a person's decision) as the guard reports it and the store keeps it. */

export type AuditDecision = "allow" | "deny" | "error";
export type AuditOutcome =
  | "ok"
  | "denied"
  | "invalid"
  | "failed"
  | "unknown"
  | "replayed"
  | "reconciled"
  /** A person's decision on an approval request (rule `approval`): not a call of its own. */
  | "approved"
  | "rejected"
  | "expired";

/** One tool call as the guard reports it; the store adds `seq` and the hash chain. */
export interface AuditEntry {
  /** ISO time with milliseconds. */
  at: string;
  session: string;
  agent: string;
  tool: string;
  /** Canonical JSON of the redacted arguments. */
  args: string;
  decision: AuditDecision;
  /** Denial or error code; `null` when the call succeeded. */
  code: string | null;
  rule: string | null;
  reason: string | null;
  stripe_request_id: string | null;
  idempotency_key: string | null;
  amount: number | null;
  currency: string | null;
  amount_cap: number | null;
  cap_currency: string | null;
  revenue_at_risk_cap: number | null;
  customer: string | null;
  outcome: AuditOutcome;
  duration_ms: number;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  /** Hash of the row before (64 zeros for the first row). */
  prev_hash: string;
  /** SHA-256 (hex) over the canonical encoding of every other column and `prev_hash`. */
  hash: string;
}

/**
 * The row as every store keeps and hashes it: each text well-formed, so the hash covers
 * exactly what is stored (a UTF-8 store turns a lone surrogate into U+FFFD on its own).
 */
export function storedAuditEntry(entry: AuditEntry): AuditEntry {
  return Object.fromEntries(
    Object.entries(entry).map(([column, value]) => [
      column,
      typeof value === "string" ? wellFormed(value) : value,
    ]),
  ) as AuditEntry;
}
