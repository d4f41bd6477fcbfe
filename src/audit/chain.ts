import { createHash } from "node:crypto";
import type { AuditEntry, AuditRecord } from "./record.js";

/**
 * The audit's hash chain. Each row's hash covers every column of the row (its `seq`
 * included, so rows cannot be swapped) and the previous row's hash, so editing, deleting
 * or reordering any row breaks verification at that row.
 */

export const GENESIS_HASH = "0".repeat(64);

/** Names the encoding inside every hashed text, so a future encoding can be told apart. */
const ENCODING = "spendguard-audit-v1";

/**
 * The canonical encoding: a JSON array of the columns in this fixed order. JSON escapes
 * make it unambiguous; a fixed order makes it independent of how a backend returns rows.
 */
export function encodeAuditRow(seq: number, entry: AuditEntry, prevHash: string): string {
  return JSON.stringify([
    ENCODING,
    seq,
    entry.at,
    entry.session,
    entry.agent,
    entry.tool,
    entry.args,
    entry.decision,
    entry.code,
    entry.rule,
    entry.reason,
    entry.stripe_request_id,
    entry.idempotency_key,
    entry.amount,
    entry.currency,
    entry.amount_cap,
    entry.cap_currency,
    entry.revenue_at_risk_cap,
    entry.customer,
    entry.outcome,
    entry.duration_ms,
    prevHash,
  ]);
}

export function hashAuditRow(seq: number, entry: AuditEntry, prevHash: string): string {
  return createHash("sha256")
    .update(encodeAuditRow(seq, entry, prevHash))
    .digest("hex");
}

/** What verification reads: every row in `seq` order, and the head recorded with the last one. */
export interface AuditSource {
  iterateAudit(): AsyncIterable<AuditRecord>;
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
}

export type AuditVerification =
  | { ok: true; rows: number }
  | { ok: false; rows: number; brokenAt: number; problem: string };

/**
 * Walks the whole chain. `brokenAt` is the first row that is wrong: an edited row (its
 * content no longer matches its hash), a deleted one (its seq is missing), a row moved
 * (its seq no longer matches its hash or its link), or a cut-off tail (the chain head,
 * written with every row, records more rows than there are). `rows` counts the rows
 * checked. Rows appended while it runs are checked too.
 */
export async function verifyAudit(store: AuditSource): Promise<AuditVerification> {
  // Read before the rows, so rows appended meanwhile only ever come after the head.
  const head = await store.auditHead();
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let rows = 0;
  const broken = (brokenAt: number, problem: string): AuditVerification => ({
    ok: false,
    rows,
    brokenAt,
    problem,
  });
  for await (const row of store.iterateAudit()) {
    rows++;
    // Rows come in seq order, so a seq other than the next one means rows were removed.
    if (row.seq !== expectedSeq) {
      return broken(expectedSeq, `row ${expectedSeq} is missing (the next row is ${row.seq})`);
    }
    if (row.prev_hash !== prevHash) {
      return broken(
        row.seq,
        `row ${row.seq} does not link to row ${row.seq - 1} (its prev_hash differs): a row was removed, inserted or rewritten here`,
      );
    }
    if (hashAuditRow(row.seq, row, row.prev_hash) !== row.hash) {
      return broken(row.seq, `row ${row.seq} was edited: its content does not match its hash`);
    }
    if (head && row.seq === head.seq && row.hash !== head.hash) {
      return broken(row.seq, `row ${row.seq} is not the row the chain head recorded`);
    }
    prevHash = row.hash;
    expectedSeq++;
  }
  const last = expectedSeq - 1;
  if (head && head.seq > last) {
    return broken(
      last + 1,
      `rows ${last + 1} to ${head.seq} are missing (the chain head records ${head.seq} rows)`,
    );
  }
  if (!head && last > 0) {
    return broken(
      last,
      "the chain head record is missing: rows after the last one may have been removed",
    );
  }
  return { ok: true, rows };
}
