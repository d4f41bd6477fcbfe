import type {
  Report,
  ReportCallsRow,
  ReportDenialRow,
  ReportFilter,
  ReportGrouping,
  ReportMoneyRow,
  SessionFilter,
  SessionSummary,
} from "../store.js";
import type { Queryable } from "./database.js";

/** The operator views (`sessions`, `report`) over PostgreSQL: the SQLite store's queries. */

const LATEST_ISO_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export async function sessionSummaries(
  db: Queryable,
  filter: SessionFilter,
): Promise<SessionSummary[]> {
  const { rows } = await db.query<SessionSummary>(
    `SELECT s.*,
       COALESCE((SELECT spend FROM session_usage u WHERE u.session = s.id), 0) AS spent,
       (SELECT cap_currency FROM audit
         WHERE audit.session = s.id AND cap_currency IS NOT NULL LIMIT 1) AS cap_currency,
       (SELECT COUNT(*) FROM audit
         WHERE audit.session = s.id AND (rule IS NULL OR rule NOT IN ('reconcile', 'approval')))
         AS calls,
       (SELECT COUNT(*) FROM audit WHERE audit.session = s.id AND decision = 'deny'
         AND (rule IS NULL OR rule != 'approval')) AS denied,
       (SELECT MAX(at) FROM audit WHERE audit.session = s.id) AS last_call_at
     FROM sessions s
     WHERE ($1::text IS NULL OR s.state = $1) AND ($2::text IS NULL OR s.agent = $2)
     ORDER BY s.started_at DESC, s.id LIMIT $3`,
    [filter.state ?? null, filter.agent ?? null, filter.limit ?? null],
  );
  return rows;
}

/** The grouping column of each table; only these fixed texts ever reach the SQL. */
const REPORT_KEYS: Record<ReportGrouping, { audit: string; admissions: string }> = {
  agent: { audit: "agent", admissions: "agent" },
  session: { audit: "session", admissions: "session" },
  tool: { audit: "tool", admissions: "tool" },
  customer: { audit: "customer", admissions: "customer" },
  day: {
    audit: "substr(at, 1, 10)",
    admissions: "to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
  },
};

export async function report(db: Queryable, filter: ReportFilter): Promise<Report> {
  const key = REPORT_KEYS[filter.by];
  const until = Math.min(filter.until ?? LATEST_ISO_TIME, LATEST_ISO_TIME);
  const auditParams = [
    new Date(filter.since).toISOString(),
    new Date(until).toISOString(),
    filter.agent ?? null,
    filter.session ?? null,
  ];
  // Reconciliation and approval rows are about calls, not calls themselves.
  const auditWhere = `at >= $1 AND at < $2
    AND ($3::text IS NULL OR agent = $3) AND ($4::text IS NULL OR session = $4)
    AND (rule IS NULL OR rule NOT IN ('reconcile', 'approval'))`;
  const calls = await db.query<ReportCallsRow>(
    `SELECT ${key.audit} AS key, COUNT(*) AS calls,
       SUM(CASE WHEN decision = 'allow' AND outcome IN ('ok', 'replayed') THEN 1 ELSE 0 END) AS ok,
       SUM(CASE WHEN outcome = 'replayed' THEN 1 ELSE 0 END) AS replayed,
       SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denied,
       SUM(CASE WHEN decision = 'error' OR (decision = 'allow' AND outcome NOT IN ('ok', 'replayed'))
         THEN 1 ELSE 0 END) AS errors
     FROM audit WHERE ${auditWhere}
     GROUP BY 1 ORDER BY 1 NULLS FIRST`,
    auditParams,
  );
  const money = await db.query<ReportMoneyRow>(
    `SELECT ${key.admissions} AS key,
       (SELECT a.cap_currency FROM audit a
         WHERE a.session = admissions.session AND a.cap_currency IS NOT NULL LIMIT 1)
         AS cap_currency,
       SUM(CASE WHEN amount_cap > 0 THEN 1 ELSE 0 END) AS money_calls,
       SUM(CASE WHEN state = 'settled' THEN amount_cap ELSE 0 END) AS settled,
       SUM(CASE WHEN state = 'reserved' THEN amount_cap ELSE 0 END) AS reserved,
       SUM(CASE WHEN state = 'unknown' THEN amount_cap ELSE 0 END) AS unknown,
       SUM(CASE WHEN state != 'released' THEN COALESCE(revenue_at_risk_cap, 0) ELSE 0 END)
         AS revenue_at_risk
     FROM admissions
     WHERE created_at >= $1 AND created_at < $2
       AND (amount_cap > 0 OR revenue_at_risk_cap IS NOT NULL)
       AND ($3::text IS NULL OR agent = $3) AND ($4::text IS NULL OR session = $4)
     GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2 NULLS FIRST`,
    [filter.since, until, filter.agent ?? null, filter.session ?? null],
  );
  const denials = await db.query<ReportDenialRow>(
    `SELECT ${key.audit} AS key, rule, code, COUNT(*) AS count
     FROM audit WHERE decision = 'deny' AND ${auditWhere}
     GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 4 DESC, 2 NULLS FIRST, 3 NULLS FIRST`,
    auditParams,
  );
  return { calls: calls.rows, money: money.rows, denials: denials.rows };
}
