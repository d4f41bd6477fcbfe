import type pg from "pg";
import { GENESIS_HASH, hashAuditRow } from "../../audit/chain.js";
import { storedAuditEntry } from "../../audit/record.js";
import type {
  Admission,
  AdmissionFilter,
  AdmissionRequest,
  AdmitCheck,
  AdmitResult,
  AgentActivity,
  AgentHold,
  AlertAttempt,
  AlertCursor,
  AlertDelivery,
  AlertDeliveryRequest,
  AlertDeliveryState,
  ApiKeyRecord,
  ApprovalDecision,
  ApprovalDecisionResult,
  ApprovalFilter,
  ApprovalRecord,
  ApprovalRequest,
  ApprovalUse,
  AttemptResult,
  AuditEntry,
  AuditFilter,
  AuditRecord,
  AuditTotal,
  AuditWhen,
  CallHistory,
  CodeRedemption,
  DeliveryClaim,
  DeliveryFilter,
  HeartbeatReading,
  HoldRequest,
  HoldResult,
  MoneyTotal,
  OAuthClientRecord,
  OAuthClientRegistration,
  OAuthCodeRecord,
  OAuthTokenRecord,
  OwnerHeartbeat,
  OwnerIdentity,
  Refusal,
  ReleaseRequest,
  Report,
  ReportFilter,
  SessionFilter,
  SessionRecord,
  SessionSummary,
  Settlement,
  StateChange,
  Store,
  TransitionResult,
  UsageQuery,
  UsageSnapshot,
} from "../store.js";
import { auditChain } from "./chain.js";
import { PgDatabase, type PgOptions, type Queryable, requireCurrentSchema } from "./database.js";
import { countAdmitted, countReleased, countSettled, readUsage } from "./usage.js";
import { report, sessionSummaries } from "./views.js";

/**
 * The store for several hosts: every promise the SQLite store keeps across processes,
 * kept across machines by one PostgreSQL database.
 *
 * - An admission takes a transaction-scoped advisory lock on its agent, then reads the
 *   usage and inserts: every cap is per agent (its sessions, its day, its customers), so
 *   two admissions of one agent never interleave, on any host, and other agents never
 *   wait for each other. Settling or releasing takes the same lock: both change the
 *   agent's running totals, and two transactions updating those rows in different
 *   orders would deadlock (measured: 8 admissions of one agent in flight fell to 6/s,
 *   each deadlock waiting out `deadlock_timeout`). SERIALIZABLE with retries would
 *   abort exactly under that contention.
 * - The audit is one chain: each append takes one advisory lock, reads the head and
 *   writes the row with its hash, so rows from every host link in one order.
 * - Everything else is a single statement or a short transaction at READ COMMITTED.
 */

/** Advisory lock spaces (the first key of `pg_advisory_xact_lock(int, int)`). */
const AGENT_LOCK = 1;
const AUDIT_LOCK = 2;
const ALERT_LOCK = 3;

type Change = { to: "settled"; settlement: Settlement } | { to: "released" } | { to: "unknown" };

/** The database's clock in ms since the epoch, as every host's heartbeats are timed. */
const DB_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

interface AdmissionRow extends Omit<Admission, "id"> {
  id: number;
}

function admissionId(n: number): string {
  return `adm_${n}`;
}

/** The row number behind an id; -1 (no row) for anything that is not an admission id. */
function admissionRow(id: string): number {
  return /^adm_\d{1,15}$/.test(id) ? Number(id.slice(4)) : -1;
}

function toAdmission(row: AdmissionRow): Admission {
  return { ...row, id: admissionId(row.id) };
}

/** Connects and checks that the schema is current (`spendguard migrate` makes it so). */
export async function openPostgresStore(
  url: string,
  options: PgOptions = {},
): Promise<PostgresStore> {
  const db = new PgDatabase(url, options);
  try {
    await requireCurrentSchema(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return new PostgresStore(db);
}

export class PostgresStore implements Store {
  constructor(readonly db: PgDatabase) {}

  async admit<R extends Refusal>(
    request: AdmissionRequest,
    check: AdmitCheck<R>,
    approval?: ApprovalUse<R>,
  ): Promise<AdmitResult<R>> {
    return this.db.transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
        AGENT_LOCK,
        request.agent,
      ]);
      // Read after the lock: the statement's snapshot includes every earlier admission.
      const usage = await readUsage(client, { ...request, at: request.created_at });
      const decision = check(usage);
      if (decision.outcome === "deny") return { admitted: false, decision, usage };
      if (approval && !(await useApproval(client, approval.id, request.created_at, null))) {
        return { admitted: false, decision: approval.unusable(), usage };
      }
      const fields = {
        ...request,
        state: "reserved" as const,
        reserved_amount_cap: request.amount_cap,
        resolved_at: null,
        stripe_request_id: null,
        result: null,
      };
      const { rows } = await client.query<{ id: number }>(
        `INSERT INTO admissions (session, agent, tool, customer, idempotency_key, amount,
           currency, amount_cap, reserved_amount_cap, revenue_at_risk_cap, cancellation, state,
           owner_pid, args, account, created_at, call_key, repeat_of, owner_host,
           owner_instance)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, 'reserved', $11, $12, $13, $14,
           $15, $16, $17, $18)
         RETURNING id`,
        [
          request.session,
          request.agent,
          request.tool,
          request.customer,
          request.idempotency_key,
          request.amount,
          request.currency,
          request.amount_cap,
          request.revenue_at_risk_cap,
          request.cancellation,
          request.owner_pid,
          request.args,
          request.account,
          request.created_at,
          request.call_key,
          request.repeat_of,
          request.owner_host,
          request.owner_instance,
        ],
      );
      const admission: Admission = { ...fields, id: admissionId(rows[0]?.id ?? -1) };
      await countAdmitted(client, admission);
      if (approval) {
        await client.query("UPDATE approvals SET admission = $2 WHERE id = $1", [
          approval.id,
          admission.id,
        ]);
      }
      return { admitted: true, admission, usage };
    });
  }

  settle(
    id: string,
    settlement: Settlement,
    audit: AuditEntry,
    when: AuditWhen = "always",
  ): Promise<TransitionResult> {
    return this.transition(id, { to: "settled", settlement }, audit, when);
  }

  release(id: string, audit: AuditEntry, when: AuditWhen = "always"): Promise<TransitionResult> {
    return this.transition(id, { to: "released" }, audit, when);
  }

  markUnknown(
    id: string,
    audit: AuditEntry,
    when: AuditWhen = "always",
  ): Promise<TransitionResult> {
    return this.transition(id, { to: "unknown" }, audit, when);
  }

  private transition(
    id: string,
    change: Change,
    audit: AuditEntry,
    when: AuditWhen,
  ): Promise<TransitionResult> {
    return this.db.transaction(async (client) => {
      const rowId = admissionRow(id);
      // Under the agent's lock, as admissions are: both change the agent's running totals,
      // and without one order for those rows, an admission and a settlement deadlock.
      // (An admission's agent never changes, so it is read before the lock.)
      await client.query(
        "SELECT pg_advisory_xact_lock($1, hashtext(agent)) FROM admissions WHERE id = $2",
        [AGENT_LOCK, rowId],
      );
      const { rows } = await client.query<AdmissionRow>(
        "SELECT * FROM admissions WHERE id = $1 FOR UPDATE",
        [rowId],
      );
      const admission = rows[0] && toAdmission(rows[0]);
      const open = admission?.state === "reserved" || admission?.state === "unknown";
      let applied = false;
      if (admission && change.to === "unknown" && admission.state === "reserved") {
        await client.query("UPDATE admissions SET state = 'unknown' WHERE id = $1", [rowId]);
        applied = true;
      } else if (admission && open && change.to === "settled") {
        const { amount, amount_cap, stripe_request_id, result } = change.settlement;
        await client.query(
          `UPDATE admissions SET state = 'settled', amount = $2, amount_cap = $3,
             stripe_request_id = $4, result = $5, resolved_at = $6 WHERE id = $1`,
          [rowId, amount, amount_cap, stripe_request_id, result, Date.now()],
        );
        await countSettled(client, admission, amount_cap, {
          currency: admission.currency,
          cap_currency: audit.cap_currency ?? "",
          amount,
        });
        applied = true;
      } else if (admission && open && change.to === "released") {
        await client.query(
          "UPDATE admissions SET state = 'released', resolved_at = $2 WHERE id = $1",
          [rowId, Date.now()],
        );
        await countReleased(client, admission);
        applied = true;
      }
      const record = applied || when === "always" ? await appendAudit(client, audit) : null;
      return { applied, record };
    });
  }

  async findCall(callKey: string): Promise<CallHistory> {
    // One round trip: every attempt counted, beside the latest that still stands (if any).
    const rows = await this.db.query<
      Omit<AdmissionRow, "id"> & { id: number | null; attempts: number }
    >(
      `SELECT (SELECT COUNT(*) FROM admissions WHERE call_key = $1) AS attempts, standing.*
       FROM (SELECT 1) AS one LEFT JOIN LATERAL (
         SELECT * FROM admissions WHERE call_key = $1 AND state != 'released'
         ORDER BY id DESC LIMIT 1) AS standing ON true`,
      [callKey],
    );
    const row = rows[0];
    if (!row) return { standing: undefined, attempts: 0 };
    const { attempts, id, ...rest } = row;
    return { standing: id === null ? undefined : toAdmission({ ...rest, id }), attempts };
  }

  async getAdmission(id: string): Promise<Admission | undefined> {
    const rows = await this.db.query<AdmissionRow>("SELECT * FROM admissions WHERE id = $1", [
      admissionRow(id),
    ]);
    return rows[0] && toAdmission(rows[0]);
  }

  async listAdmissions(filter: AdmissionFilter): Promise<Admission[]> {
    const rows = await this.db.query<AdmissionRow>(
      `SELECT * FROM admissions
       WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR session = $2)
         AND ($3::text IS NULL OR agent = $3)
       ORDER BY id LIMIT $4`,
      [filter.states ?? null, filter.session ?? null, filter.agent ?? null, filter.limit ?? null],
    );
    return rows.map(toAdmission);
  }

  usage(query: UsageQuery): Promise<UsageSnapshot> {
    return readUsage(this.db.pool, query).catch((err: unknown) => {
      throw this.unavailable(err);
    });
  }

  async callsInSession(session: string): Promise<Record<string, number>> {
    const rows = await this.db.query<{ tool: string; calls: number }>(
      "SELECT tool, calls FROM session_tool_calls WHERE session = $1 ORDER BY tool",
      [session],
    );
    return Object.fromEntries(rows.map((row) => [row.tool, row.calls]));
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO sessions (id, agent, policy_name, policy_hash, started_at, expires_at, state,
         state_changed_at, killed_by, kill_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        s.id,
        s.agent,
        s.policy_name,
        s.policy_hash,
        s.started_at,
        s.expires_at,
        s.state,
        s.state_changed_at,
        s.killed_by,
        s.kill_reason,
      ],
    );
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const rows = await this.db.query<SessionRecord>("SELECT * FROM sessions WHERE id = $1", [id]);
    return rows[0];
  }

  async changeSessionState(id: string, change: StateChange): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE sessions SET state = $2, state_changed_at = $3, killed_by = $4, kill_reason = $5
       WHERE id = $1 AND state = 'active' RETURNING id`,
      [id, change.state, change.at, change.by, change.reason],
    );
    return rows.length > 0;
  }

  async killActiveSessions(
    change: StateChange & { state: "killed" },
    agent?: string,
  ): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE sessions SET state = $1, state_changed_at = $2, killed_by = $3, kill_reason = $4
       WHERE state = 'active' AND ($5::text IS NULL OR agent = $5) RETURNING id`,
      [change.state, change.at, change.by, change.reason, agent ?? null],
    );
    return rows.map((row) => row.id);
  }

  listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.db.query<SessionRecord>(
      `SELECT * FROM sessions
       WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR agent = $2)
       ORDER BY started_at DESC, id LIMIT $3`,
      [filter.state ?? null, filter.agent ?? null, filter.limit ?? null],
    );
  }

  appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    return this.db.transaction((client) => appendAudit(client, entry));
  }

  queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    const params: unknown[] = [];
    const conditions: string[] = [];
    for (const column of ["session", "agent", "tool", "decision"] as const) {
      const value = filter[column];
      if (value === undefined) continue;
      params.push(value);
      conditions.push(`${column} = $${params.length}`);
    }
    if (filter.since !== undefined) {
      params.push(filter.since);
      conditions.push(`at >= $${params.length}`);
    }
    params.push(filter.afterSeq ?? 0);
    conditions.push(`seq > $${params.length}`);
    params.push(filter.limit ?? null);
    return this.db.query<AuditRecord>(
      `SELECT * FROM (SELECT * FROM audit WHERE ${conditions.join(" AND ")}
         ORDER BY seq DESC LIMIT $${params.length}) latest ORDER BY seq`,
      params,
    );
  }

  iterateAudit(): AsyncIterable<AuditRecord> {
    return auditChain(this.db).iterateAudit();
  }

  auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    return auditChain(this.db).auditHead();
  }

  findOrRequestApproval(
    request: ApprovalRequest,
  ): Promise<{ approval: ApprovalRecord; created: boolean }> {
    return this.db.transaction(async (client) => {
      // Identical calls at once (any host) share one request: they queue on its binding.
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [request.binding]);
      const { rows } = await client.query<ApprovalRecord>(
        `SELECT ${APPROVAL_COLUMNS} FROM approvals
         WHERE binding = $1 AND state IN ('pending', 'approved', 'rejected') AND expires_at > $2
         ORDER BY created_at DESC, n DESC LIMIT 1`,
        [request.binding, request.created_at],
      );
      if (rows[0]) return { approval: rows[0], created: false };
      await client.query(
        `INSERT INTO approvals (id, binding, session, agent, tool, args, account, customer, amount,
           currency, amount_cap, cap_currency, rule, summary, ttl_ms, state, created_at, expires_at,
           approval_via)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending', $16,
           $17, $18)`,
        [
          request.id,
          request.binding,
          request.session,
          request.agent,
          request.tool,
          request.args,
          request.account,
          request.customer,
          request.amount,
          request.currency,
          request.amount_cap,
          request.cap_currency,
          request.rule,
          request.summary,
          request.ttl_ms,
          request.created_at,
          request.expires_at,
          request.approval_via,
        ],
      );
      const approval: ApprovalRecord = {
        ...request,
        state: "pending",
        decided_at: null,
        decided_by: null,
        decision_reason: null,
        used_at: null,
        admission: null,
      };
      return { approval, created: true };
    });
  }

  decideApproval(
    decision: ApprovalDecision,
    audit: (approval: ApprovalRecord) => AuditEntry,
  ): Promise<ApprovalDecisionResult> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<ApprovalRecord>(
        `UPDATE approvals SET state = $2, decided_at = $3, decided_by = $4, decision_reason = $5,
           expires_at = CASE WHEN $2 = 'expired' THEN $3 ELSE $3 + ttl_ms END
         WHERE id = $1 AND state = 'pending' AND expires_at > $3
         RETURNING ${APPROVAL_COLUMNS}`,
        [decision.id, decision.to, decision.at, decision.by, decision.reason],
      );
      const approval = rows[0];
      if (!approval) return { applied: false, approval: await getApproval(client, decision.id) };
      return { applied: true, approval, record: await appendAudit(client, audit(approval)) };
    });
  }

  async useApproval(id: string, at: number, admission: string | null): Promise<boolean> {
    try {
      return await useApproval(this.db.pool, id, at, admission);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    try {
      return await getApproval(this.db.pool, id);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.db.query<ApprovalRecord>(
      `SELECT ${APPROVAL_COLUMNS} FROM approvals
       WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text IS NULL OR session = $2)
         AND ($3::text IS NULL OR agent = $3) AND ($4::bigint IS NULL OR expires_at > $4)
         AND (NOT $5 OR session IN (SELECT id FROM sessions WHERE state = 'active'))
       ORDER BY created_at DESC, n DESC LIMIT $6`,
      [
        filter.states ?? null,
        filter.session ?? null,
        filter.agent ?? null,
        filter.openAt ?? null,
        filter.liveSession === true,
        filter.limit ?? null,
      ],
    );
  }

  async sessionSummaries(filter: SessionFilter): Promise<SessionSummary[]> {
    try {
      return await sessionSummaries(this.db.pool, filter);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async report(filter: ReportFilter): Promise<Report> {
    try {
      return await report(this.db.pool, filter);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    await insertApiKey(this.db.pool, key).catch((err: unknown) => {
      throw this.unavailable(err);
    });
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.db.query<ApiKeyRecord>("SELECT * FROM api_keys WHERE key_hash = $1", [
      keyHash,
    ]);
    return rows[0];
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.db.query<ApiKeyRecord>("SELECT * FROM api_keys WHERE id = $1", [id]);
    return rows[0];
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.db.query<ApiKeyRecord>("SELECT * FROM api_keys ORDER BY created_at, id");
  }

  async revokeApiKey(id: string, at: number, reason?: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE api_keys SET revoked_at = $2, revoked_reason = $3
       WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
      [id, at, reason ?? null],
    );
    return rows.length > 0;
  }

  async saveOAuthClient(client: OAuthClientRecord): Promise<void> {
    await saveOAuthClient(this.db.pool, client).catch((err: unknown) => {
      throw this.unavailable(err);
    });
  }

  async getOAuthClient(id: string): Promise<OAuthClientRecord | undefined> {
    const rows = await this.db.query<OAuthClientRecord>(
      "SELECT * FROM oauth_clients WHERE id = $1",
      [id],
    );
    return rows[0];
  }

  listOAuthClients(): Promise<OAuthClientRecord[]> {
    return this.db.query<OAuthClientRecord>("SELECT * FROM oauth_clients ORDER BY created_at, id");
  }

  async countOAuthClients(filter: {
    registration: OAuthClientRegistration;
    since: number;
    registeredBy?: string;
  }): Promise<number> {
    const rows = await this.db.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM oauth_clients
       WHERE registration = $1 AND created_at >= $2 AND ($3::text IS NULL OR registered_by = $3)`,
      [filter.registration, filter.since, filter.registeredBy ?? null],
    );
    return rows[0]?.n ?? 0;
  }

  async createOAuthIdentity(identity: ApiKeyRecord, client?: OAuthClientRecord): Promise<void> {
    await this.db.transaction(async (db) => {
      if (client) await saveOAuthClient(db, client);
      await insertApiKey(db, identity);
    });
  }

  async createOAuthCode(code: OAuthCodeRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO oauth_codes (code_hash, client_id, grant_id, redirect_uri, code_challenge,
         resource, scope, created_at, expires_at, used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        code.code_hash,
        code.client_id,
        code.grant_id,
        code.redirect_uri,
        code.code_challenge,
        code.resource,
        code.scope,
        code.created_at,
        code.expires_at,
        code.used_at,
      ],
    );
  }

  redeemOAuthCode(codeHash: string, at: number): Promise<CodeRedemption | undefined> {
    return this.db.transaction(async (db) => {
      const { rows } = await db.query<OAuthCodeRecord>(
        "SELECT * FROM oauth_codes WHERE code_hash = $1 FOR UPDATE",
        [codeHash],
      );
      const code = rows[0];
      if (!code) return undefined;
      const used = await db.query(
        "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL",
        [codeHash, at],
      );
      return { code, firstUse: (used.rowCount ?? 0) > 0 };
    });
  }

  async createOAuthTokens(tokens: readonly OAuthTokenRecord[]): Promise<void> {
    await this.db.transaction(async (db) => {
      for (const token of tokens) await insertToken(db, token);
    });
  }

  async findOAuthToken(tokenHash: string): Promise<OAuthTokenRecord | undefined> {
    const rows = await this.db.query<OAuthTokenRecord>(
      "SELECT * FROM oauth_tokens WHERE token_hash = $1",
      [tokenHash],
    );
    return rows[0];
  }

  rotateRefreshToken(
    tokenHash: string,
    at: number,
    next: readonly OAuthTokenRecord[],
  ): Promise<boolean> {
    return this.db.transaction(async (db) => {
      const rotated = await db.query(
        `UPDATE oauth_tokens SET rotated_at = $2
         WHERE token_hash = $1 AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL`,
        [tokenHash, at],
      );
      if ((rotated.rowCount ?? 0) === 0) return false;
      for (const token of next) await insertToken(db, token);
      return true;
    });
  }

  async revokeOAuthToken(tokenHash: string, at: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL
       RETURNING token_hash`,
      [tokenHash, at],
    );
    return rows.length > 0;
  }

  async deleteExpiredOAuth(before: number): Promise<void> {
    await this.db.transaction(async (db) => {
      await db.query("DELETE FROM oauth_codes WHERE expires_at < $1", [before]);
      await db.query("DELETE FROM oauth_tokens WHERE expires_at < $1", [before]);
    });
  }

  async recordSessionKey(session: string, keyId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO session_keys (session, key_id) VALUES ($1, $2)
       ON CONFLICT (session) DO UPDATE SET key_id = excluded.key_id`,
      [session, keyId],
    );
  }

  async sessionKey(session: string): Promise<string | undefined> {
    const rows = await this.db.query<{ key_id: string }>(
      "SELECT key_id FROM session_keys WHERE session = $1",
      [session],
    );
    return rows[0]?.key_id;
  }

  sessionsKilledSince(at: number, limit: number): Promise<SessionRecord[]> {
    return this.db.query<SessionRecord>(
      `SELECT * FROM sessions WHERE state = 'killed' AND state_changed_at >= $1
       ORDER BY state_changed_at, id LIMIT $2`,
      [at, limit],
    );
  }

  async agentActivity(
    agent: string,
    tools: readonly string[] | null,
    since: number,
    until: number,
  ): Promise<AgentActivity> {
    const rows = await this.db.query<AgentActivity>(
      `SELECT COUNT(*) AS money_calls, COALESCE(SUM(amount_cap), 0) AS amount_cap
       FROM admissions
       WHERE agent = $1 AND created_at > $2 AND created_at <= $3
         AND amount_cap > 0 AND state != 'released'
         AND ($4::text[] IS NULL OR tool = ANY($4))`,
      [agent, since, until, tools],
    );
    return rows[0] ?? { money_calls: 0, amount_cap: 0 };
  }

  holdAgent(
    request: HoldRequest,
    audit: (killed: readonly string[]) => AuditEntry,
  ): Promise<HoldResult> {
    return this.db.transaction(async (db) => {
      // One hold per agent, decided under the agent's lock (as admissions are).
      await db.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [AGENT_LOCK, request.agent]);
      const open = await db.query(
        "SELECT 1 FROM agent_holds WHERE agent = $1 AND released_at IS NULL",
        [request.agent],
      );
      if (open.rows.length > 0) return { held: false, killed: [], record: null };
      await db.query(
        "INSERT INTO agent_holds (agent, held_at, held_by, reason) VALUES ($1, $2, $3, $4)",
        [request.agent, request.at, request.by, request.reason],
      );
      const { rows } = await db.query<{ id: string }>(
        `UPDATE sessions SET state = 'killed', state_changed_at = $1, killed_by = $2,
           kill_reason = $3
         WHERE state = 'active' AND agent = $4 RETURNING id`,
        [request.at, request.by, request.reason, request.agent],
      );
      const killed = rows.map((row) => row.id);
      return { held: true, killed, record: await appendAudit(db, audit(killed)) };
    });
  }

  releaseAgent(
    request: ReleaseRequest,
    audit: AuditEntry | null,
  ): Promise<{ released: boolean; record: AuditRecord | null }> {
    return this.db.transaction(async (db) => {
      const released = await db.query(
        `UPDATE agent_holds SET released_at = $2, released_by = $3, release_reason = $4
         WHERE agent = $1 AND released_at IS NULL`,
        [request.agent, request.at, request.by, request.reason],
      );
      if ((released.rowCount ?? 0) === 0) return { released: false, record: null };
      return { released: true, record: audit ? await appendAudit(db, audit) : null };
    });
  }

  async agentHold(agent: string): Promise<AgentHold | undefined> {
    const rows = await this.db.query<AgentHold>(
      `SELECT ${HOLD_COLUMNS} FROM agent_holds WHERE agent = $1 ORDER BY id DESC LIMIT 1`,
      [agent],
    );
    return rows[0];
  }

  listAgentHolds(filter: { open?: boolean }): Promise<AgentHold[]> {
    return this.db.query<AgentHold>(
      `SELECT ${HOLD_COLUMNS} FROM agent_holds WHERE (NOT $1 OR released_at IS NULL)
       ORDER BY id DESC`,
      [filter.open ?? false],
    );
  }

  enqueueAlert(
    request: AlertDeliveryRequest,
    cooldownMs: number,
  ): Promise<AlertDelivery | undefined> {
    return this.db.transaction(async (db) => {
      // Every host may see the same event: they queue on its cool-down key.
      await db.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
        ALERT_LOCK,
        request.cooldown_key,
      ]);
      const queued = await db.query(
        "SELECT 1 FROM alert_deliveries WHERE alert = $1 AND sink = $2",
        [request.alert, request.sink],
      );
      if (queued.rows.length > 0) return undefined;
      if (cooldownMs > 0) {
        const cooling = await db.query(
          `SELECT 1 FROM alert_deliveries
           WHERE cooldown_key = $1 AND event_at > $2 AND event_at < $3 LIMIT 1`,
          [request.cooldown_key, request.event_at - cooldownMs, request.event_at + cooldownMs],
        );
        if (cooling.rows.length > 0) return undefined;
      }
      const { rows } = await db.query<DeliveryRow>(
        `INSERT INTO alert_deliveries (alert, sink, type, rule, agent, cooldown_key, event_at,
           summary, body, created_at, state, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $10)
         RETURNING *`,
        [
          request.alert,
          request.sink,
          request.type,
          request.rule,
          request.agent,
          request.cooldown_key,
          request.event_at,
          request.summary,
          request.body,
          request.created_at,
        ],
      );
      return rows[0] && toDelivery(rows[0]);
    });
  }

  async claimAlertDeliveries(claim: DeliveryClaim): Promise<AlertDelivery[]> {
    if (claim.sinks.length === 0) return [];
    // SKIP LOCKED: two hosts claiming at once take different deliveries.
    const rows = await this.db.query<DeliveryRow>(
      `UPDATE alert_deliveries SET lease_until = $1
       WHERE id IN (
         SELECT id FROM alert_deliveries
         WHERE state = 'pending' AND next_attempt_at <= $2
           AND (lease_until IS NULL OR lease_until <= $2) AND sink = ANY($3)
         ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [claim.now + claim.leaseMs, claim.now, claim.sinks, claim.limit],
    );
    return rows
      .sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id)
      .map(toDelivery);
  }

  async recordAlertAttempt(attempt: AlertAttempt, result: AttemptResult): Promise<void> {
    const id = deliveryRow(attempt.delivery);
    await this.db.transaction(async (db) => {
      await db.query(
        `INSERT INTO alert_attempts (delivery, at, status, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5)`,
        [id, attempt.at, attempt.status, attempt.error, attempt.duration_ms],
      );
      await db.query(
        `UPDATE alert_deliveries SET attempts = attempts + 1, state = $2, next_attempt_at = $3,
           lease_until = NULL, last_status = $4, last_error = $5, delivered_at = $6
         WHERE id = $1 AND state = 'pending'`,
        [
          id,
          result.state,
          result.next_attempt_at,
          attempt.status,
          attempt.error,
          result.state === "delivered" ? attempt.at : null,
        ],
      );
    });
  }

  async listAlertDeliveries(filter: DeliveryFilter): Promise<AlertDelivery[]> {
    const rows = await this.db.query<DeliveryRow>(
      `SELECT * FROM alert_deliveries
       WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR sink = $2)
       ORDER BY id DESC LIMIT $3`,
      [filter.state ?? null, filter.sink ?? null, filter.limit ?? null],
    );
    return rows.map(toDelivery);
  }

  async listAlertAttempts(delivery: string): Promise<AlertAttempt[]> {
    const rows = await this.db.query<Omit<AlertAttempt, "delivery"> & { delivery: number }>(
      `SELECT delivery, at, status, error, duration_ms FROM alert_attempts
       WHERE delivery = $1 ORDER BY at, n`,
      [deliveryRow(delivery)],
    );
    return rows.map((row) => ({ ...row, delivery: deliveryId(row.delivery) }));
  }

  alertDeliveryCounts(): Promise<{ sink: string; state: AlertDeliveryState; count: number }[]> {
    return this.db.query(
      `SELECT sink, state, COUNT(*) AS count FROM alert_deliveries GROUP BY 1, 2 ORDER BY 1, 2`,
    );
  }

  async alertCursor(): Promise<AlertCursor | undefined> {
    const rows = await this.db.query<AlertCursor>(
      "SELECT audit_seq, killed_at FROM alert_cursor WHERE id = 1",
    );
    return rows[0];
  }

  async advanceAlertCursor(cursor: AlertCursor): Promise<void> {
    await this.db.query(
      `INSERT INTO alert_cursor (id, audit_seq, killed_at) VALUES (1, $1, $2)
       ON CONFLICT (id) DO UPDATE SET
         audit_seq = GREATEST(alert_cursor.audit_seq, excluded.audit_seq),
         killed_at = GREATEST(alert_cursor.killed_at, excluded.killed_at)`,
      [cursor.audit_seq, cursor.killed_at],
    );
  }

  async auditTotals(): Promise<AuditTotal[]> {
    const rows = await this.db.query<AuditTotal>(
      "SELECT tool, decision, rule, code, count FROM audit_totals ORDER BY 1, 2, 3, 4",
    );
    return rows.map((row) => ({ ...row, rule: row.rule || null, code: row.code || null }));
  }

  async moneyTotals(): Promise<MoneyTotal[]> {
    const rows = await this.db.query<MoneyTotal>(
      `SELECT agent, currency, amount, cap_currency, amount_cap FROM money_totals
       ORDER BY 1, 2, 4`,
    );
    return rows.map((row) => ({ ...row, cap_currency: row.cap_currency || null }));
  }

  /** Times by the database's clock (`clock_timestamp()`): hosts' own clocks may disagree. */
  async beat(owner: OwnerIdentity): Promise<void> {
    await this.db.query(
      `INSERT INTO owner_heartbeats (instance, host, pid, started_at, seen_at)
       SELECT $1, $2, $3, clock.ms, clock.ms FROM (SELECT ${DB_NOW_MS} AS ms) AS clock
       ON CONFLICT (instance) DO UPDATE
         SET seen_at = GREATEST(owner_heartbeats.seen_at, excluded.seen_at)`,
      [owner.instance, owner.host, owner.pid],
    );
  }

  async heartbeats(instances: readonly string[]): Promise<HeartbeatReading> {
    const [beats, clock] = await Promise.all([
      this.db.query<OwnerHeartbeat>(
        `SELECT instance, host, pid, started_at, seen_at FROM owner_heartbeats
         WHERE instance = ANY($1::text[])`,
        [instances],
      ),
      this.db.query<{ now: number }>(`SELECT ${DB_NOW_MS} AS now`),
    ]);
    return { now: clock[0]?.now ?? Date.now(), beats };
  }

  async forgetHeartbeat(instance: string): Promise<void> {
    await this.db.query("DELETE FROM owner_heartbeats WHERE instance = $1", [instance]);
  }

  async forgetSilentHeartbeats(ageMs: number): Promise<number> {
    const rows = await this.db.query<{ instance: string }>(
      `DELETE FROM owner_heartbeats WHERE seen_at < ${DB_NOW_MS} - $1 RETURNING instance`,
      [ageMs],
    );
    return rows.length;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** Statements run on the pool directly go through the same fault mapping. */
  private unavailable(err: unknown): unknown {
    return this.db.mapError(err);
  }
}

/** The approval columns as `ApprovalRecord` has them (not the ordering column `n`). */
const APPROVAL_COLUMNS = `id, binding, session, agent, tool, args, account, customer, amount,
  currency, amount_cap, cap_currency, rule, summary, ttl_ms, approval_via, state, created_at,
  expires_at, decided_at, decided_by, decision_reason, used_at, admission`;

async function getApproval(db: Queryable, id: string): Promise<ApprovalRecord | undefined> {
  const { rows } = await db.query<ApprovalRecord>(
    `SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** Approved and unexpired → used by `admission`. */
async function useApproval(
  db: Queryable,
  id: string,
  at: number,
  admission: string | null,
): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE approvals SET state = 'used', used_at = $2, admission = $3
     WHERE id = $1 AND state = 'approved' AND expires_at > $2 RETURNING id`,
    [id, at, admission],
  );
  return rows.length > 0;
}

/** Appends one row to the chain, inside the caller's transaction. */
async function appendAudit(client: pg.PoolClient, given: AuditEntry): Promise<AuditRecord> {
  const entry = storedAuditEntry(given);
  const head = await lockAuditHead(client);
  const seq = (head?.seq ?? 0) + 1;
  const prev_hash = head?.hash ?? GENESIS_HASH;
  const record: AuditRecord = {
    ...entry,
    seq,
    prev_hash,
    hash: hashAuditRow(seq, entry, prev_hash),
  };
  await client.query(
    `WITH head AS (
       INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $22)
       ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash),
     totals AS (
       INSERT INTO audit_totals (tool, decision, rule, code, count) VALUES ($5, $7, $23, $24, 1)
       ON CONFLICT (tool, decision, rule, code) DO UPDATE SET count = audit_totals.count + 1)
     INSERT INTO audit (seq, at, session, agent, tool, args, decision, code, rule, reason,
       stripe_request_id, idempotency_key, amount, currency, amount_cap, cap_currency,
       revenue_at_risk_cap, customer, outcome, duration_ms, prev_hash, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
       $19, $20, $21, $22)`,
    [
      seq,
      record.at,
      record.session,
      record.agent,
      record.tool,
      record.args,
      record.decision,
      record.code,
      record.rule,
      record.reason,
      record.stripe_request_id,
      record.idempotency_key,
      record.amount,
      record.currency,
      record.amount_cap,
      record.cap_currency,
      record.revenue_at_risk_cap,
      record.customer,
      record.outcome,
      record.duration_ms,
      prev_hash,
      record.hash,
      entry.rule ?? "",
      entry.code ?? "",
    ],
  );
  return record;
}

/**
 * The chain's head, locked until the transaction ends: appenders on every host queue on
 * that one row, and each reads the head its predecessor committed (FOR UPDATE reads the
 * latest version). Before the first row there is no head row to lock: the advisory lock
 * orders those first appenders instead.
 */
async function lockAuditHead(
  client: pg.PoolClient,
): Promise<{ seq: number; hash: string } | undefined> {
  const read = () =>
    client.query<{ seq: number; hash: string }>(
      "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    );
  const { rows } = await read();
  if (rows[0]) return rows[0];
  await client.query("SELECT pg_advisory_xact_lock($1, 0)", [AUDIT_LOCK]);
  return (await read()).rows[0];
}

async function insertApiKey(db: Queryable, key: ApiKeyRecord): Promise<void> {
  await db.query(
    `INSERT INTO api_keys (id, kind, name, policy_file, credential, key_hash, oauth_client,
       created_at, expires_at, revoked_at, revoked_reason)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      key.id,
      key.kind,
      key.name,
      key.policy_file,
      key.credential,
      key.key_hash,
      key.oauth_client,
      key.created_at,
      key.expires_at,
      key.revoked_at,
      key.revoked_reason,
    ],
  );
}

/** Inserts or replaces a client (a metadata document's client is fetched again). */
async function saveOAuthClient(db: Queryable, client: OAuthClientRecord): Promise<void> {
  await db.query(
    `INSERT INTO oauth_clients (id, registration, name, redirect_uris, grant_types, auth_method,
       secret_hash, client_uri, registered_by, created_at, fresh_until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (id) DO UPDATE SET registration = excluded.registration, name = excluded.name,
       redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types,
       auth_method = excluded.auth_method, secret_hash = excluded.secret_hash,
       client_uri = excluded.client_uri, registered_by = excluded.registered_by,
       created_at = excluded.created_at, fresh_until = excluded.fresh_until`,
    [
      client.id,
      client.registration,
      client.name,
      client.redirect_uris,
      client.grant_types,
      client.auth_method,
      client.secret_hash,
      client.client_uri,
      client.registered_by,
      client.created_at,
      client.fresh_until,
    ],
  );
}

async function insertToken(db: Queryable, token: OAuthTokenRecord): Promise<void> {
  await db.query(
    `INSERT INTO oauth_tokens (token_hash, kind, grant_id, client_id, resource, scope,
       created_at, expires_at, rotated_at, revoked_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      token.token_hash,
      token.kind,
      token.grant_id,
      token.client_id,
      token.resource,
      token.scope,
      token.created_at,
      token.expires_at,
      token.rotated_at,
      token.revoked_at,
    ],
  );
}

const HOLD_COLUMNS = "agent, held_at, held_by, reason, released_at, released_by, release_reason";

interface DeliveryRow extends Omit<AlertDelivery, "id"> {
  id: number;
}

function deliveryId(n: number): string {
  return `dlv_${n}`;
}

/** The row number behind an id; -1 (no row) for anything else. */
function deliveryRow(id: string): number {
  return /^dlv_\d{1,15}$/.test(id) ? Number(id.slice(4)) : -1;
}

function toDelivery(row: DeliveryRow): AlertDelivery {
  return { ...row, id: deliveryId(row.id) };
}
