import type Database from "better-sqlite3";
import type {
  ApprovalDecision,
  ApprovalFilter,
  ApprovalRecord,
  ApprovalRequest,
} from "../store.js";

/**
 * The `approvals` table's statements. They run inside the store's transactions: the
 * lookup with the insert of a new request, a decision with its audit row, and the use of
 * an approval with the admission it lets through.
 */
export interface ApprovalTable {
  /** The newest row bound to `binding` still open at `at`: pending, approved or rejected. */
  findOpen(binding: string, at: number): ApprovalRecord | undefined;
  insert(request: ApprovalRequest): ApprovalRecord;
  get(id: string): ApprovalRecord | undefined;
  /**
   * Pending and unexpired → decided. A yes stays usable, and a no keeps refusing the same
   * call, for `ttl_ms` from the decision; an expiry closes it at once.
   */
  decide(decision: ApprovalDecision): boolean;
  /** Approved and unexpired → used by `admission`. */
  use(id: string, at: number, admission: string | null): boolean;
  list(filter: ApprovalFilter): ApprovalRecord[];
}

export function prepareApprovalTable(db: Database.Database): ApprovalTable {
  const findOpen = db.prepare(`
    SELECT * FROM approvals
    WHERE binding = ? AND state IN ('pending', 'approved', 'rejected') AND expires_at > ?
    ORDER BY created_at DESC, rowid DESC LIMIT 1`);
  const insert = db.prepare(`
    INSERT INTO approvals (id, binding, session, agent, tool, args, account, customer, amount,
      currency, amount_cap, cap_currency, rule, summary, ttl_ms, approval_via, state, created_at,
      expires_at)
    VALUES (@id, @binding, @session, @agent, @tool, @args, @account, @customer, @amount,
      @currency, @amount_cap, @cap_currency, @rule, @summary, @ttl_ms, @approval_via, 'pending',
      @created_at, @expires_at)`);
  const get = db.prepare(`SELECT * FROM approvals WHERE id = ?`);
  const decide = db.prepare(`
    UPDATE approvals SET state = @to, decided_at = @at, decided_by = @by,
      decision_reason = @reason,
      expires_at = CASE WHEN @to = 'expired' THEN @at ELSE @at + ttl_ms END
    WHERE id = @id AND state = 'pending' AND expires_at > @at`);
  const use = db.prepare(`
    UPDATE approvals SET state = 'used', used_at = @at, admission = @admission
    WHERE id = @id AND state = 'approved' AND expires_at > @at`);
  const list = db.prepare(`
    SELECT * FROM (
      SELECT rowid AS n, * FROM approvals
      WHERE (@states IS NULL OR state IN (SELECT value FROM json_each(@states)))
        AND (@session IS NULL OR session = @session) AND (@agent IS NULL OR agent = @agent)
        AND (@openAt IS NULL OR expires_at > @openAt)
        AND (@liveSession IS NULL OR session IN (SELECT id FROM sessions WHERE state = 'active'))
      ORDER BY created_at DESC, n DESC LIMIT @limit)`);

  return {
    findOpen: (binding, at) => findOpen.get(binding, at) as ApprovalRecord | undefined,
    insert(request) {
      insert.run(request);
      return {
        ...request,
        state: "pending",
        decided_at: null,
        decided_by: null,
        decision_reason: null,
        used_at: null,
        admission: null,
      };
    },
    get: (id) => get.get(id) as ApprovalRecord | undefined,
    decide: (decision) => decide.run(decision).changes > 0,
    use: (id, at, admission) => use.run({ id, at, admission }).changes > 0,
    list(filter) {
      const rows = list.all({
        states: filter.states ? JSON.stringify(filter.states) : null,
        session: filter.session ?? null,
        agent: filter.agent ?? null,
        openAt: filter.openAt ?? null,
        liveSession: filter.liveSession ? 1 : null,
        limit: filter.limit ?? -1,
      }) as (ApprovalRecord & { n?: number })[];
      return rows.map(({ n: _n, ...row }) => row);
    },
  };
}
