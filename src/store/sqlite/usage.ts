import type Database from "better-sqlite3";
import type { Admission, UsageQuery, UsageSnapshot } from "../store.js";

/**
 * Usage as running totals (see the `*_usage`, `*_open` and `*_minutes` tables), so that
 * checking caps reads a handful of rows however many calls came before. The totals change
 * only here, inside the store's write transactions, alongside the admission they follow.
 *
 * A rolling window is exact to the millisecond: whole minutes come from the per-minute
 * totals, and the window's first, partly covered minute from the admissions themselves.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** What the totals need to know about an admission. */
type Counted = Pick<
  Admission,
  "session" | "agent" | "tool" | "customer" | "amount_cap" | "cancellation" | "created_at"
>;

export interface UsageTotals {
  read(query: UsageQuery): UsageSnapshot;
  /** A new admission (state `reserved`). */
  admitted(admission: Counted): void;
  /** A reserved or unknown admission settled at `settledCap` (cap-currency minor units). */
  settled(admission: Counted, settledCap: number): void;
  /** A reserved or unknown admission released: it counts for nothing any more. */
  released(admission: Counted): void;
}

export function prepareUsageTotals(db: Database.Database): UsageTotals {
  const read = db.prepare(`
    SELECT
      COALESCE((SELECT spend FROM session_usage WHERE session = @session), 0) AS sessionSpend,
      COALESCE((SELECT spend FROM agent_open WHERE agent = @agent), 0)
      + COALESCE((SELECT SUM(spend) FROM agent_minutes
          WHERE agent = @agent AND minute > @dayEdge), 0)
      + COALESCE((SELECT SUM(amount_cap) FROM admissions
          WHERE agent = @agent AND created_at > @dayStart AND created_at < @dayEdgeEnd
            AND state = 'settled'), 0) AS daySpend,
      COALESCE((SELECT spend FROM customer_open WHERE agent = @agent AND customer = @customer), 0)
      + COALESCE((SELECT SUM(spend) FROM customer_minutes
          WHERE agent = @agent AND customer = @customer AND minute > @dayEdge), 0)
      + COALESCE((SELECT SUM(amount_cap) FROM admissions
          WHERE agent = @agent AND created_at > @dayStart AND created_at < @dayEdgeEnd
            AND customer = @customer AND state = 'settled'), 0) AS customerDaySpend,
      COALESCE((SELECT calls FROM session_tool_calls
          WHERE session = @session AND tool = @tool), 0) AS toolCallsSession,
      COALESCE((SELECT SUM(calls) FROM tool_minutes
          WHERE agent = @agent AND tool = @tool AND minute > @hourEdge), 0)
      + (SELECT COUNT(*) FROM admissions
          WHERE agent = @agent AND created_at > @hourStart AND created_at < @hourEdgeEnd
            AND tool = @tool) AS toolCallsHour,
      COALESCE((SELECT cancellations FROM session_usage WHERE session = @session), 0)
        AS cancellationsSession,
      COALESCE((SELECT cancellations FROM agent_open WHERE agent = @agent), 0)
      + COALESCE((SELECT SUM(cancellations) FROM agent_minutes
          WHERE agent = @agent AND minute > @dayEdge), 0)
      + (SELECT COUNT(*) FROM admissions
          WHERE agent = @agent AND created_at > @dayStart AND created_at < @dayEdgeEnd
            AND state = 'settled' AND cancellation = 1) AS cancellationsDay`);

  const addSession = db.prepare(`
    INSERT INTO session_usage (session, spend, cancellations)
    VALUES (@session, @spend, @cancellations)
    ON CONFLICT (session) DO UPDATE SET
      spend = spend + excluded.spend, cancellations = cancellations + excluded.cancellations`);
  const addSessionCall = db.prepare(`
    INSERT INTO session_tool_calls (session, tool, calls) VALUES (@session, @tool, 1)
    ON CONFLICT (session, tool) DO UPDATE SET calls = calls + 1`);
  const addToolMinute = db.prepare(`
    INSERT INTO tool_minutes (agent, tool, minute, calls) VALUES (@agent, @tool, @minute, 1)
    ON CONFLICT (agent, tool, minute) DO UPDATE SET calls = calls + 1`);
  const addOpen = db.prepare(`
    INSERT INTO agent_open (agent, spend, cancellations) VALUES (@agent, @spend, @cancellations)
    ON CONFLICT (agent) DO UPDATE SET
      spend = spend + excluded.spend, cancellations = cancellations + excluded.cancellations`);
  const addCustomerOpen = db.prepare(`
    INSERT INTO customer_open (agent, customer, spend) VALUES (@agent, @customer, @spend)
    ON CONFLICT (agent, customer) DO UPDATE SET spend = spend + excluded.spend`);
  const addMinute = db.prepare(`
    INSERT INTO agent_minutes (agent, minute, spend, cancellations)
    VALUES (@agent, @minute, @spend, @cancellations)
    ON CONFLICT (agent, minute) DO UPDATE SET
      spend = spend + excluded.spend, cancellations = cancellations + excluded.cancellations`);
  const addCustomerMinute = db.prepare(`
    INSERT INTO customer_minutes (agent, customer, minute, spend)
    VALUES (@agent, @customer, @minute, @spend)
    ON CONFLICT (agent, customer, minute) DO UPDATE SET spend = spend + excluded.spend`);

  /** Money and cancellations that count whatever their age, moved in or out. */
  const changeOpen = (a: Counted, sign: 1 | -1) => {
    if (a.amount_cap === 0 && !a.cancellation) return;
    addOpen.run({
      agent: a.agent,
      spend: sign * a.amount_cap,
      cancellations: sign * Number(a.cancellation),
    });
    if (a.customer !== null && a.amount_cap > 0) {
      addCustomerOpen.run({ agent: a.agent, customer: a.customer, spend: sign * a.amount_cap });
    }
  };

  return {
    read(query) {
      const dayStart = query.at - DAY_MS;
      const hourStart = query.at - HOUR_MS;
      const dayEdge = Math.floor(dayStart / MINUTE_MS);
      const hourEdge = Math.floor(hourStart / MINUTE_MS);
      return read.get({
        session: query.session,
        agent: query.agent,
        tool: query.tool,
        customer: query.customer,
        dayStart,
        dayEdge,
        dayEdgeEnd: (dayEdge + 1) * MINUTE_MS,
        hourStart,
        hourEdge,
        hourEdgeEnd: (hourEdge + 1) * MINUTE_MS,
      }) as UsageSnapshot;
    },

    admitted(a) {
      addSessionCall.run({ session: a.session, tool: a.tool });
      addToolMinute.run({
        agent: a.agent,
        tool: a.tool,
        minute: Math.floor(a.created_at / MINUTE_MS),
      });
      if (a.amount_cap === 0 && !a.cancellation) return;
      addSession.run({
        session: a.session,
        spend: a.amount_cap,
        cancellations: Number(a.cancellation),
      });
      changeOpen(a, 1);
    },

    settled(a, settledCap) {
      if (a.amount_cap === 0 && settledCap === 0 && !a.cancellation) return;
      addSession.run({ session: a.session, spend: settledCap - a.amount_cap, cancellations: 0 });
      changeOpen(a, -1);
      const minute = Math.floor(a.created_at / MINUTE_MS);
      addMinute.run({
        agent: a.agent,
        minute,
        spend: settledCap,
        cancellations: Number(a.cancellation),
      });
      if (a.customer !== null && settledCap > 0) {
        addCustomerMinute.run({ agent: a.agent, customer: a.customer, minute, spend: settledCap });
      }
    },

    released(a) {
      if (a.amount_cap === 0 && !a.cancellation) return;
      addSession.run({
        session: a.session,
        spend: -a.amount_cap,
        cancellations: -Number(a.cancellation),
      });
      changeOpen(a, -1);
    },
  };
}
