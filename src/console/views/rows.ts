import { formatTime, shortId } from "../../cli/format.js";
import { amountOf, resultOf } from "../../operator/audit-rows.js";
import type { AuditRecord } from "../../store/store.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH } from "../layout.js";

/** Audit rows as table rows, worded as `spendguard audit` words them. */

export const AUDIT_HEADERS = html`<tr><th scope="col">Seq</th><th scope="col">Time (UTC)</th><th scope="col">Session</th><th scope="col">Agent</th><th scope="col">Tool</th><th scope="col">Result</th><th scope="col" class="num">Amount</th><th scope="col">Customer</th><th scope="col">Detail</th></tr>`;

export function auditRow(row: AuditRecord): SafeHtml {
  const kind =
    row.decision === "deny"
      ? "deny"
      : row.decision === "error" || row.outcome === "failed" || row.outcome === "unknown"
        ? "error"
        : "ok";
  // data-label names each cell where a phone shows a row as a card.
  return html`<tr data-seq="${row.seq}" class="${kind}"><td class="num" data-label="Seq">${row.seq}</td><td data-label="Time"><time datetime="${row.at}">${formatTime(row.at)}</time></td><td data-label="Session"><a href="${sessionHref(row.session)}">${shortId(row.session)}</a></td><td data-label="Agent">${row.agent}</td><td data-label="Tool">${row.tool}</td><td class="result" data-label="Result">${resultOf(row)}</td><td class="num" data-label="Amount">${amountOf(row)}</td><td data-label="Customer">${row.customer ?? ""}</td><td class="detail" data-label="Detail">${row.outcome === "ok" ? "" : (row.reason ?? "")}</td></tr>`;
}

export function sessionHref(id: string): string {
  return `${CONSOLE_PATH}/sessions/${encodeURIComponent(id)}`;
}

/** "12:01:02 issue_refund ok $25.00": a session's last call in one line. */
export function lastCall(row: AuditRecord | undefined): SafeHtml {
  if (!row) return html`<span class="muted">none yet</span>`;
  const amount = amountOf(row);
  return html`<time datetime="${row.at}">${formatTime(row.at).slice(11)}</time> ${row.tool} <span class="result ${row.decision}">${resultOf(row)}</span>${amount ? ` ${amount}` : ""}`;
}
