import type Database from "better-sqlite3";
import type {
  AlertAttempt,
  AlertCursor,
  AlertDelivery,
  AlertDeliveryRequest,
  AlertDeliveryState,
  AttemptResult,
  DeliveryClaim,
  DeliveryFilter,
} from "../store.js";
import { withBusyRetry } from "./busy.js";

/**
 * The alerts outbox (`alert_deliveries`, `alert_attempts`) and the shared evaluation
 * cursor, prepared once (see `SqliteStore`). Deliveries are numbered by the database;
 * their ids read `dlv_<n>`.
 */

interface DeliveryRow extends Omit<AlertDelivery, "id"> {
  id: number;
}

function deliveryId(rowid: number): string {
  return `dlv_${rowid}`;
}

/** The row number behind an id; -1 (no row) for anything else. */
function deliveryRowid(id: string): number {
  return /^dlv_\d+$/.test(id) ? Number(id.slice(4)) : -1;
}

function toDelivery(row: DeliveryRow): AlertDelivery {
  return { ...row, id: deliveryId(row.id) };
}

export function prepareAlertTable(db: Database.Database) {
  const queued = db.prepare(`SELECT 1 FROM alert_deliveries WHERE alert = ? AND sink = ?`);
  const cooling = db.prepare(`
    SELECT 1 FROM alert_deliveries
    WHERE cooldown_key = @cooldown_key AND event_at > @from AND event_at < @to LIMIT 1`);
  const insert = db.prepare(`
    INSERT INTO alert_deliveries (alert, sink, type, rule, agent, cooldown_key, event_at,
      summary, body, created_at, state, attempts, next_attempt_at, lease_until, last_status,
      last_error, delivered_at)
    VALUES (@alert, @sink, @type, @rule, @agent, @cooldown_key, @event_at, @summary, @body,
      @created_at, 'pending', 0, @created_at, NULL, NULL, NULL, NULL)
    RETURNING *`);
  const due = db.prepare(`
    SELECT id FROM alert_deliveries
    WHERE state = 'pending' AND next_attempt_at <= @now
      AND (lease_until IS NULL OR lease_until <= @now)
      AND sink IN (SELECT value FROM json_each(@sinks))
    ORDER BY next_attempt_at, id LIMIT @limit`);
  const lease = db.prepare(
    `UPDATE alert_deliveries SET lease_until = @until WHERE id = @id RETURNING *`,
  );
  const insertAttempt = db.prepare(`
    INSERT INTO alert_attempts (delivery, at, status, error, duration_ms)
    VALUES (@delivery, @at, @status, @error, @duration_ms)`);
  const afterAttempt = db.prepare(`
    UPDATE alert_deliveries SET attempts = attempts + 1, state = @state,
      next_attempt_at = @next_attempt_at, lease_until = NULL, last_status = @status,
      last_error = @error, delivered_at = @delivered_at
    WHERE id = @id AND state = 'pending'`);
  const list = db.prepare(`
    SELECT * FROM alert_deliveries
    WHERE (@state IS NULL OR state = @state) AND (@sink IS NULL OR sink = @sink)
    ORDER BY id DESC LIMIT @limit`);
  const attempts = db.prepare(
    `SELECT delivery, at, status, error, duration_ms FROM alert_attempts
     WHERE delivery = ? ORDER BY at, rowid`,
  );
  const counts = db.prepare(
    `SELECT sink, state, COUNT(*) AS count FROM alert_deliveries GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const cursor = db.prepare(`SELECT audit_seq, killed_at FROM alert_cursor WHERE id = 1`);
  const advance = db.prepare(`
    INSERT INTO alert_cursor (id, audit_seq, killed_at) VALUES (1, @audit_seq, @killed_at)
    ON CONFLICT (id) DO UPDATE SET audit_seq = MAX(audit_seq, excluded.audit_seq),
      killed_at = MAX(killed_at, excluded.killed_at)`);

  const enqueueTxn = db.transaction(
    (request: AlertDeliveryRequest, cooldownMs: number): AlertDelivery | undefined => {
      if (queued.get(request.alert, request.sink)) return undefined;
      if (
        cooldownMs > 0 &&
        cooling.get({
          cooldown_key: request.cooldown_key,
          from: request.event_at - cooldownMs,
          to: request.event_at + cooldownMs,
        })
      ) {
        return undefined;
      }
      return toDelivery(insert.get(request) as DeliveryRow);
    },
  );
  const claimTxn = db.transaction((claim: DeliveryClaim): AlertDelivery[] => {
    const ids = due.all({
      now: claim.now,
      sinks: JSON.stringify(claim.sinks),
      limit: claim.limit,
    }) as { id: number }[];
    return ids.map(({ id }) =>
      toDelivery(lease.get({ id, until: claim.now + claim.leaseMs }) as DeliveryRow),
    );
  });
  const attemptTxn = db.transaction((attempt: AlertAttempt, result: AttemptResult) => {
    const id = deliveryRowid(attempt.delivery);
    insertAttempt.run({ ...attempt, delivery: id });
    afterAttempt.run({
      id,
      state: result.state,
      next_attempt_at: result.next_attempt_at,
      status: attempt.status,
      error: attempt.error,
      delivered_at: result.state === "delivered" ? attempt.at : null,
    });
  });

  return {
    enqueue(request: AlertDeliveryRequest, cooldownMs: number): AlertDelivery | undefined {
      return withBusyRetry(() => enqueueTxn.immediate(request, cooldownMs));
    },
    claim(claim: DeliveryClaim): AlertDelivery[] {
      if (claim.sinks.length === 0) return [];
      return withBusyRetry(() => claimTxn.immediate(claim));
    },
    recordAttempt(attempt: AlertAttempt, result: AttemptResult): void {
      withBusyRetry(() => attemptTxn.immediate(attempt, result));
    },
    list(filter: DeliveryFilter): AlertDelivery[] {
      const rows = list.all({
        state: filter.state ?? null,
        sink: filter.sink ?? null,
        limit: filter.limit ?? -1,
      }) as DeliveryRow[];
      return rows.map(toDelivery);
    },
    attempts(delivery: string): AlertAttempt[] {
      const rows = attempts.all(deliveryRowid(delivery)) as (Omit<AlertAttempt, "delivery"> & {
        delivery: number;
      })[];
      return rows.map((row) => ({ ...row, delivery: deliveryId(row.delivery) }));
    },
    counts(): { sink: string; state: AlertDeliveryState; count: number }[] {
      return counts.all() as { sink: string; state: AlertDeliveryState; count: number }[];
    },
    cursor(): AlertCursor | undefined {
      return cursor.get() as AlertCursor | undefined;
    },
    advance(next: AlertCursor): void {
      withBusyRetry(() => advance.run(next));
    },
  };
}

export type AlertTable = ReturnType<typeof prepareAlertTable>;
