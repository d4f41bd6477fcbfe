import { formatMoney } from "../money/currency.js";
import type { AuditFilter, AuditRecord, Store } from "../store/store.js";

/**
 * Audit rows as operators read them, in the terminal (`spendguard audit`) and in the
 * console: what a row's result and money say in a few words, and every row matching a
 * filter, streamed for exports of any size.
 */

/** Every matching row in seq order, streamed from the store (for unlimited exports). */
export async function* scanAudit(store: Store, filter: AuditFilter): AsyncGenerator<AuditRecord> {
  for await (const row of store.iterateAudit()) {
    if (filter.session !== undefined && row.session !== filter.session) continue;
    if (filter.agent !== undefined && row.agent !== filter.agent) continue;
    if (filter.tool !== undefined && row.tool !== filter.tool) continue;
    if (filter.decision !== undefined && row.decision !== filter.decision) continue;
    if (filter.since !== undefined && row.at < filter.since) continue;
    yield row;
  }
}

/** `ok`, `replayed`, `denied cap_session`, `error invalid_input`, `approved`, … */
export function resultOf(row: AuditRecord): string {
  // A person's decision on an approval request: approved, rejected, expired.
  if (row.rule === "approval") return row.outcome;
  if (row.decision === "deny") return `denied ${row.code ?? ""}`.trim();
  if (row.decision === "error") return `error ${row.code ?? ""}`.trim();
  if (row.outcome === "ok" || row.outcome === "replayed" || row.outcome === "reconciled") {
    return row.code ? `${row.outcome} ${row.code}` : row.outcome;
  }
  return `${row.outcome} ${row.code ?? ""}`.trim();
}

/** The money a row is about: `$25.00`, `€10.00 (≈ $10.80)`, `at risk $49.00/mo`. */
export function amountOf(row: AuditRecord): string {
  if (row.amount !== null && row.currency) {
    const own = formatMoney(row.amount, row.currency);
    if (row.cap_currency && row.cap_currency !== row.currency && row.amount_cap !== null) {
      return `${own} (≈ ${formatMoney(row.amount_cap, row.cap_currency)})`;
    }
    return own;
  }
  if (row.revenue_at_risk_cap !== null && row.cap_currency) {
    return `at risk ${formatMoney(row.revenue_at_risk_cap, row.cap_currency)}/mo`;
  }
  return "";
}
