import type { AuditRecord } from "./record.js";
import { printable } from "./text.js";

/**
 * The audit as exported for scripts and spreadsheets (`spendguard audit --json|--csv`, the
 * console's downloads): every column in one order, JSON Lines or CSV. Agent text in a CSV
 * cell cannot become a spreadsheet formula: a cell starting with `=`, `+`, `-`, `@`, a
 * tab or a carriage return is prefixed with `'` (OWASP's CSV injection advice).
 */

export const AUDIT_COLUMNS: readonly (keyof AuditRecord)[] = [
  "seq",
  "at",
  "session",
  "agent",
  "tool",
  "decision",
  "outcome",
  "code",
  "rule",
  "reason",
  "customer",
  "amount",
  "currency",
  "amount_cap",
  "cap_currency",
  "revenue_at_risk_cap",
  "stripe_request_id",
  "idempotency_key",
  "args",
  "duration_ms",
  "prev_hash",
  "hash",
];

/** The header line of a CSV export. */
export const AUDIT_CSV_HEADER = AUDIT_COLUMNS.join(",");

/** One row as a JSON object with the columns in export order. */
export function auditJson(row: AuditRecord): Record<string, unknown> {
  return Object.fromEntries(AUDIT_COLUMNS.map((column) => [column, row[column]]));
}

/** One row as a CSV line (without the line break). */
export function auditCsv(row: AuditRecord): string {
  return AUDIT_COLUMNS.map((column) => csvField(row[column])).join(",");
}

const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field (RFC 4180): text is made printable, and a cell a spreadsheet would run as a
 * formula (starting with = + - @, or a tab or carriage return) gets a leading `'`, so it
 * shows as text; then it is quoted if needed.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string") {
    text = printable(text);
    if (FORMULA_START.test(value)) text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
