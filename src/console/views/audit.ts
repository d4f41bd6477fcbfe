import type { ServerResponse } from "node:http";
import { TOOLS } from "../../../tools/index.js";
import { AUDIT_CSV_HEADER, auditCsv, auditJson } from "../../audit/export.js";
import { scanAudit } from "../../operator/audit-rows.js";
import { parseDuration } from "../../policy/load.js";
import type { AuditDecision, AuditFilter } from "../../store/store.js";
import type { ConsoleContext } from "../context.js";
import { html, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, type NavState, notice, page } from "../layout.js";
import type { LiveStream } from "../live.js";
import { AUDIT_HEADERS, auditRow } from "./rows.js";

/**
 * The audit: filters by session, agent, tool, decision and time, the latest rows newest
 * first, new rows added live as any process writes them, and exports (CSV, JSON) of every
 * matching row with every column, written by the same code as `spendguard audit --csv|--json`.
 */

export const AUDIT_PATH = `${CONSOLE_PATH}/audit`;
export const AUDIT_LIVE = `${CONSOLE_PATH}/live/audit`;
const ROWS = 200;
const DECISIONS: readonly AuditDecision[] = ["allow", "deny", "error"];

export type FilterRead = { filter: AuditFilter; query: URLSearchParams; problem: string | null };

/** The filter a query names; a bad value is dropped and said, not a failure. */
export function auditFilter(params: URLSearchParams): FilterRead {
  const filter: AuditFilter = {};
  const query = new URLSearchParams();
  let problem: string | null = null;
  const text = (name: string) => params.get(name)?.trim().slice(0, 200) || undefined;
  const session = text("session");
  const agent = text("agent");
  const tool = text("tool");
  const decision = text("decision");
  const since = text("since");
  if (session) {
    filter.session = session;
    query.set("session", session);
  }
  if (agent) {
    filter.agent = agent;
    query.set("agent", agent);
  }
  if (tool) {
    filter.tool = tool;
    query.set("tool", tool);
  }
  if (decision && (DECISIONS as readonly string[]).includes(decision)) {
    filter.decision = decision as AuditDecision;
    query.set("decision", decision);
  }
  if (since) {
    const at = sinceOf(since, Date.now());
    if (at === undefined) problem = `"${since}" is not a time: use 30m, 24h, 7d or an ISO date.`;
    else {
      filter.since = new Date(at).toISOString();
      query.set("since", since);
    }
  }
  return { filter, query, problem };
}

function sinceOf(text: string, now: number): number | undefined {
  if (/^\d{1,6}[smhd]$/.test(text)) return now - parseDuration(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}

export async function auditPage(
  ctx: ConsoleContext,
  nav: NavState,
  params: URLSearchParams,
): Promise<string> {
  const { filter, query, problem } = auditFilter(params);
  const rows = await ctx.store.queryAudit({ ...filter, limit: ROWS });
  const last = (await ctx.store.auditHead())?.seq ?? 0;
  const agents = [
    ...new Set((await ctx.store.listSessions({ limit: 500 })).map((s) => s.agent)),
  ].sort();
  const q = query.toString();
  const live = new URLSearchParams(query);
  live.set("after", String(last));
  const body = html`<h1>Audit</h1>
${notice(problem, "error")}
<form class="filters" method="get" action="${AUDIT_PATH}">
${filter.session ? html`<input type="hidden" name="session" value="${filter.session}">` : ""}
<div><label for="f-agent">Agent</label><input id="f-agent" name="agent" list="agents" value="${filter.agent ?? ""}">
<datalist id="agents">${agents.map((a) => html`<option value="${a}"></option>`)}</datalist></div>
<div><label for="f-tool">Tool</label><input id="f-tool" name="tool" list="tools" value="${filter.tool ?? ""}">
<datalist id="tools">${TOOLS.map((t) => html`<option value="${t.name}"></option>`)}</datalist></div>
<div><label for="f-decision">Decision</label><select id="f-decision" name="decision"><option value="">any</option>${DECISIONS.map(
    (d) => html`<option value="${d}"${filter.decision === d ? html` selected` : ""}>${d}</option>`,
  )}</select></div>
<div><label for="f-since">Since</label><input id="f-since" name="since" placeholder="24h, 7d or 2026-01-31" value="${query.get("since") ?? ""}"></div>
<div class="buttons"><button type="submit">Filter</button> <a href="${AUDIT_PATH}">Clear</a></div>
</form>
${filter.session ? html`<p>Session <code>${filter.session}</code> only.</p>` : ""}
<p class="exports">Export every matching row: <a href="${AUDIT_PATH}/export.csv${q ? `?${q}` : ""}" download>CSV</a> · <a href="${AUDIT_PATH}/export.json${q ? `?${q}` : ""}" download>JSON</a>
<span class="live-state" data-live-state>Following new rows live.</span></p>
<div class="table-wrap"><table class="audit"><caption>${rows.length === ROWS ? `The ${ROWS} latest matching rows, newest first` : `${rows.length} matching row(s), newest first`}</caption>
<thead>${AUDIT_HEADERS}</thead><tbody data-live-rows="${AUDIT_LIVE}?${live.toString()}">${[...rows].reverse().map(auditRow)}</tbody></table></div>
${rows.length === 0 ? await emptyAudit(ctx) : ""}`;
  return page({ title: "Audit", body, nav });
}

async function emptyAudit(ctx: ConsoleContext): Promise<SafeHtml> {
  return (await ctx.store.auditHead()) === undefined
    ? html`<p class="empty">The audit is empty: every tool call an agent makes through spendguard, allowed or not, becomes one row here.</p>`
    : html`<p class="empty">No row matches these filters.</p>`;
}

/** New rows matching the query after its `after` seq, as they are written. */
export async function auditStream(
  ctx: ConsoleContext,
  params: URLSearchParams,
  allowed: () => boolean | Promise<boolean>,
): Promise<LiveStream> {
  const { filter } = auditFilter(params);
  let after = Number.parseInt(params.get("after") ?? "", 10);
  if (!Number.isSafeInteger(after) || after < 0) after = (await ctx.store.auditHead())?.seq ?? 0;
  return {
    allowed,
    async next() {
      const rows = await ctx.store.queryAudit({ ...filter, afterSeq: after, limit: ROWS });
      const last = rows.at(-1);
      if (!last) return undefined;
      after = last.seq;
      return { event: "rows", html: [...rows].reverse().map(auditRow).join("") };
    },
  };
}

/**
 * Every matching row as CSV or a JSON array, written as the store hands them over (a page
 * at a time); the response buffers what the socket has not taken yet.
 */
export async function exportAudit(
  ctx: ConsoleContext,
  res: ServerResponse,
  format: "csv" | "json",
  params: URLSearchParams,
): Promise<void> {
  const { filter } = auditFilter(params);
  const stamp = new Date(ctx.now()).toISOString().slice(0, 19).replace(/[:T]/g, "-");
  res.writeHead(200, {
    "Content-Type":
      format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
    "Content-Disposition": `attachment; filename="spendguard-audit-${stamp}.${format}"`,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  let first = true;
  res.write(format === "csv" ? `${AUDIT_CSV_HEADER}\n` : "[");
  for await (const row of await scanAudit(ctx.store, filter)) {
    if (format === "csv") res.write(`${auditCsv(row)}\n`);
    else res.write(`${first ? "\n" : ",\n"}${JSON.stringify(auditJson(row))}`);
    first = false;
  }
  res.end(format === "csv" ? "" : "\n]\n");
}
