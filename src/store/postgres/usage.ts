import type { Admission, UsageQuery, UsageSnapshot } from "../store.js";
import type { Queryable } from "./database.js";

/**
 * The running totals of `../sqlite/usage.ts`, in PostgreSQL: the same tables and rules
 * (whole minutes from per-minute totals, the first partly covered minute from the
 * admissions), changed only inside the store's transactions. Increments are single
 * statements, so concurrent ones from several hosts add up exactly.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

type Counted = Pick<
  Admission,
  "session" | "agent" | "tool" | "customer" | "amount_cap" | "cancellation" | "created_at"
>;

const READ = `
  SELECT
    COALESCE((SELECT spend FROM session_usage WHERE session = $1), 0) AS "sessionSpend",
    COALESCE((SELECT spend FROM agent_open WHERE agent = $2), 0)
    + COALESCE((SELECT SUM(spend) FROM agent_minutes WHERE agent = $2 AND minute > $5), 0)
    + COALESCE((SELECT SUM(amount_cap) FROM admissions
        WHERE agent = $2 AND created_at > $6 AND created_at < $7 AND state = 'settled'), 0)
      AS "daySpend",
    COALESCE((SELECT spend FROM customer_open WHERE agent = $2 AND customer = $4), 0)
    + COALESCE((SELECT SUM(spend) FROM customer_minutes
        WHERE agent = $2 AND customer = $4 AND minute > $5), 0)
    + COALESCE((SELECT SUM(amount_cap) FROM admissions
        WHERE agent = $2 AND created_at > $6 AND created_at < $7
          AND customer = $4 AND state = 'settled'), 0) AS "customerDaySpend",
    COALESCE((SELECT calls FROM session_tool_calls WHERE session = $1 AND tool = $3), 0)
      AS "toolCallsSession",
    COALESCE((SELECT SUM(calls) FROM tool_minutes
        WHERE agent = $2 AND tool = $3 AND minute > $8), 0)
    + (SELECT COUNT(*) FROM admissions
        WHERE agent = $2 AND created_at > $9 AND created_at < $10 AND tool = $3)
      AS "toolCallsHour",
    COALESCE((SELECT cancellations FROM session_usage WHERE session = $1), 0)
      AS "cancellationsSession",
    COALESCE((SELECT cancellations FROM agent_open WHERE agent = $2), 0)
    + COALESCE((SELECT SUM(cancellations) FROM agent_minutes
        WHERE agent = $2 AND minute > $5), 0)
    + (SELECT COUNT(*) FROM admissions
        WHERE agent = $2 AND created_at > $6 AND created_at < $7
          AND state = 'settled' AND cancellation) AS "cancellationsDay"`;

export async function readUsage(db: Queryable, query: UsageQuery): Promise<UsageSnapshot> {
  const dayStart = query.at - DAY_MS;
  const hourStart = query.at - HOUR_MS;
  const dayEdge = Math.floor(dayStart / MINUTE_MS);
  const hourEdge = Math.floor(hourStart / MINUTE_MS);
  const { rows } = await db.query<UsageSnapshot>(READ, [
    query.session,
    query.agent,
    query.tool,
    query.customer,
    dayEdge,
    dayStart,
    (dayEdge + 1) * MINUTE_MS,
    hourEdge,
    hourStart,
    (hourEdge + 1) * MINUTE_MS,
  ]);
  const usage = rows[0];
  if (!usage) throw new Error("the usage query returned no row");
  return usage;
}

const ADD_SESSION = `
  INSERT INTO session_usage AS u (session, spend, cancellations) VALUES ($1, $2, $3)
  ON CONFLICT (session) DO UPDATE SET
    spend = u.spend + excluded.spend, cancellations = u.cancellations + excluded.cancellations`;
const ADD_OPEN = `
  INSERT INTO agent_open AS o (agent, spend, cancellations) VALUES ($1, $2, $3)
  ON CONFLICT (agent) DO UPDATE SET
    spend = o.spend + excluded.spend, cancellations = o.cancellations + excluded.cancellations`;
const ADD_CUSTOMER_OPEN = `
  INSERT INTO customer_open AS o (agent, customer, spend) VALUES ($1, $2, $3)
  ON CONFLICT (agent, customer) DO UPDATE SET spend = o.spend + excluded.spend`;

/** A new admission: its calls, and its money and cancellations as open. One statement. */
export async function countAdmitted(db: Queryable, a: Counted): Promise<void> {
  const minute = Math.floor(a.created_at / MINUTE_MS);
  const moves = a.amount_cap !== 0 || a.cancellation;
  const customerMoney = a.customer !== null && a.amount_cap > 0;
  await db.query(
    `WITH calls AS (
       INSERT INTO session_tool_calls AS c (session, tool, calls) VALUES ($1, $3, 1)
       ON CONFLICT (session, tool) DO UPDATE SET calls = c.calls + 1),
     minutes AS (
       INSERT INTO tool_minutes AS t (agent, tool, minute, calls) VALUES ($2, $3, $4, 1)
       ON CONFLICT (agent, tool, minute) DO UPDATE SET calls = t.calls + 1),
     session_money AS (
       INSERT INTO session_usage AS u (session, spend, cancellations)
       SELECT $1::text, $5::bigint, $6::bigint WHERE $8::boolean
       ON CONFLICT (session) DO UPDATE SET spend = u.spend + excluded.spend,
         cancellations = u.cancellations + excluded.cancellations),
     agent_money AS (
       INSERT INTO agent_open AS o (agent, spend, cancellations)
       SELECT $2::text, $5::bigint, $6::bigint WHERE $8::boolean
       ON CONFLICT (agent) DO UPDATE SET spend = o.spend + excluded.spend,
         cancellations = o.cancellations + excluded.cancellations)
     INSERT INTO customer_open AS o (agent, customer, spend)
     SELECT $2::text, $7::text, $5::bigint WHERE $9::boolean
     ON CONFLICT (agent, customer) DO UPDATE SET spend = o.spend + excluded.spend`,
    [
      a.session,
      a.agent,
      a.tool,
      minute,
      a.amount_cap,
      Number(a.cancellation),
      a.customer,
      moves,
      customerMoney,
    ],
  );
}

async function changeOpen(db: Queryable, a: Counted, sign: 1 | -1): Promise<void> {
  if (a.amount_cap === 0 && !a.cancellation) return;
  await db.query(ADD_OPEN, [a.agent, sign * a.amount_cap, sign * Number(a.cancellation)]);
  if (a.customer !== null && a.amount_cap > 0) {
    await db.query(ADD_CUSTOMER_OPEN, [a.agent, a.customer, sign * a.amount_cap]);
  }
}

/** What a settlement moved, for the per-currency money totals. */
export interface SettledMoney {
  currency: string | null;
  cap_currency: string;
  amount: number;
}

/**
 * A reserved or unknown admission settled at `settledCap`: its open money moves to its
 * minute, and the money totals grow. One statement (each CTE runs, its WHERE says whether
 * it writes): every statement is a round trip, and a refund's settlement is on its path.
 */
export async function countSettled(
  db: Queryable,
  a: Counted,
  settledCap: number,
  money: SettledMoney,
): Promise<void> {
  const counts = a.amount_cap !== 0 || settledCap !== 0 || a.cancellation;
  if (!counts && money.currency === null) return;
  await db.query(
    `WITH session_money AS (
       INSERT INTO session_usage AS u (session, spend, cancellations)
       SELECT $1::text, $3::bigint, 0 WHERE $12::boolean
       ON CONFLICT (session) DO UPDATE SET spend = u.spend + excluded.spend),
     open_money AS (
       INSERT INTO agent_open AS o (agent, spend, cancellations)
       SELECT $2::text, -$4::bigint, -$5::bigint WHERE $9::boolean
       ON CONFLICT (agent) DO UPDATE SET spend = o.spend + excluded.spend,
         cancellations = o.cancellations + excluded.cancellations),
     customer_open_money AS (
       INSERT INTO customer_open AS o (agent, customer, spend)
       SELECT $2::text, $6::text, -$4::bigint WHERE $10::boolean
       ON CONFLICT (agent, customer) DO UPDATE SET spend = o.spend + excluded.spend),
     minute_money AS (
       INSERT INTO agent_minutes AS m (agent, minute, spend, cancellations)
       SELECT $2::text, $7::bigint, $8::bigint, $5::bigint WHERE $12::boolean
       ON CONFLICT (agent, minute) DO UPDATE SET
         spend = m.spend + excluded.spend, cancellations = m.cancellations + excluded.cancellations),
     customer_minute_money AS (
       INSERT INTO customer_minutes AS m (agent, customer, minute, spend)
       SELECT $2::text, $6::text, $7::bigint, $8::bigint WHERE $11::boolean
       ON CONFLICT (agent, customer, minute) DO UPDATE SET spend = m.spend + excluded.spend),
     money AS (
       INSERT INTO money_totals (agent, currency, cap_currency, amount, amount_cap)
       SELECT $2::text, $13::text, $14::text, $15::bigint, $8::bigint WHERE $13::text IS NOT NULL
       ON CONFLICT (agent, currency, cap_currency) DO UPDATE SET
         amount = money_totals.amount + excluded.amount,
         amount_cap = money_totals.amount_cap + excluded.amount_cap)
     SELECT 1`,
    [
      a.session,
      a.agent,
      settledCap - a.amount_cap,
      a.amount_cap,
      Number(a.cancellation),
      a.customer,
      Math.floor(a.created_at / MINUTE_MS),
      settledCap,
      counts && (a.amount_cap !== 0 || a.cancellation),
      counts && a.customer !== null && a.amount_cap > 0,
      counts && a.customer !== null && settledCap > 0,
      counts,
      money.currency,
      money.cap_currency,
      money.amount,
    ],
  );
}

/** A reserved or unknown admission released: it counts for nothing any more. */
export async function countReleased(db: Queryable, a: Counted): Promise<void> {
  if (a.amount_cap === 0 && !a.cancellation) return;
  await db.query(ADD_SESSION, [a.session, -a.amount_cap, -Number(a.cancellation)]);
  await changeOpen(db, a, -1);
}
