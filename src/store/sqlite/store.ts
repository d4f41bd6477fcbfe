import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { GENESIS_HASH, hashAuditRow } from "../../audit/chain.js";
import { storedAuditEntry } from "../../audit/record.js";
import { ConfigError } from "../../errors.js";
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
  OwnerIdentity,
  Refusal,
  ReleaseRequest,
  Report,
  ReportCallsRow,
  ReportDenialRow,
  ReportFilter,
  ReportGrouping,
  ReportMoneyRow,
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
import { type AlertTable, prepareAlertTable } from "./alerts.js";
import { type ApprovalTable, prepareApprovalTable } from "./approvals.js";
import { withBusyRetry } from "./busy.js";
import { type HeartbeatStatements, prepareHeartbeatStatements } from "./heartbeats.js";
import { type HoldStatements, prepareHoldStatements } from "./holds.js";
import { type KeyStatements, prepareKeyStatements } from "./keys.js";
import { MIGRATIONS } from "./migrations.js";
import { type OAuthStatements, prepareOAuthStatements } from "./oauth.js";
import { openDatabase } from "./open.js";
import { SqliteTables } from "./tables.js";
import { prepareUsageTotals, type UsageTotals } from "./usage.js";

export const DATABASE_FILE = "spendguard.db";

const LATEST_ISO_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const AUDIT_PAGE_ROWS = 1_000;

export interface SqliteStoreOptions {
  /**
   * `tiered` (default): the commits whose loss could let a cap be overshot or a kill be
   * forgotten — the admission of a call that moves money or cancels, and session state
   * changes — reach the disk before they return (an admission is durable before its Stripe
   * request leaves); other commits (reads' admissions, settlements, audit rows) are synced
   * with the next durable commit or checkpoint. A power cut can lose only those, and
   * reconciliation replays what they would have recorded. `full` syncs every commit;
   * `normal` none (benchmarks and throwaway data).
   */
  synchronous?: "tiered" | "full" | "normal";
  /** How long one attempt waits for another process's write lock. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed, with owner-only permissions) `$SPENDGUARD_HOME/spendguard.db`.
 * Every process using the same home shares it: caps hold across all of them.
 */
export function openSqliteStore(home: string, options: SqliteStoreOptions = {}): SqliteStore {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, DATABASE_FILE);
  // Created by us first, so the file (and SQLite's -wal/-shm, which copy its mode) is 0600.
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
  return new SqliteStore(file, options);
}

/** Where a transition takes an admission. */
type Change = { to: "settled"; settlement: Settlement } | { to: "released" } | { to: "unknown" };

interface AdmissionRow extends Omit<Admission, "id" | "cancellation"> {
  id: number;
  cancellation: number;
}

/** Admissions are numbered by the database (cheap appends); their ids read `adm_<n>`. */
function admissionId(rowid: number): string {
  return `adm_${rowid}`;
}

/** The row number behind an id; -1 (no row) for anything that is not an admission id. */
function admissionRowid(id: string): number {
  return /^adm_\d+$/.test(id) ? Number(id.slice(4)) : -1;
}

interface RowStatement<Row> {
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
  iterate(...params: unknown[]): IterableIterator<Row>;
  run(...params: unknown[]): Database.RunResult;
}

export class SqliteStore implements Store {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly totals: UsageTotals;
  private readonly approvals: ApprovalTable;
  private readonly keys: KeyStatements;
  private readonly oauth: OAuthStatements;
  private readonly holds: HoldStatements;
  private readonly heartbeatStatements: HeartbeatStatements;
  private readonly alerts: AlertTable;
  private readonly auditQueries = new Map<string, RowStatement<AuditRecord>>();
  private readonly reportQueries = new Map<ReportGrouping, ReturnType<typeof prepareReport>>();
  private readonly admitTxn: Database.Transaction<
    (
      request: AdmissionRequest,
      check: AdmitCheck<Refusal>,
      approval: ApprovalUse<Refusal> | undefined,
    ) => AdmitResult<Refusal>
  >;
  private readonly requestApprovalTxn: Database.Transaction<
    (request: ApprovalRequest) => { approval: ApprovalRecord; created: boolean }
  >;
  private readonly decideApprovalTxn: Database.Transaction<
    (
      decision: ApprovalDecision,
      audit: (approval: ApprovalRecord) => AuditEntry,
    ) => ApprovalDecisionResult
  >;
  private readonly appendTxn: Database.Transaction<(entry: AuditEntry) => AuditRecord>;
  private readonly holdTxn: Database.Transaction<
    (request: HoldRequest, audit: (killed: readonly string[]) => AuditEntry) => HoldResult
  >;
  private readonly releaseTxn: Database.Transaction<
    (
      request: ReleaseRequest,
      audit: AuditEntry | null,
    ) => { released: boolean; record: AuditRecord | null }
  >;
  private readonly transitionTxn: Database.Transaction<
    (id: string, change: Change, audit: AuditEntry, when: AuditWhen) => TransitionResult
  >;

  private readonly durability: "tiered" | "full" | "normal";

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.db = withBusyRetry(() => openDatabase(file, { timeout: options.busyTimeoutMs ?? 5_000 }));
    withBusyRetry(() => this.db.pragma("journal_mode = WAL"));
    this.durability = options.synchronous ?? "tiered";
    this.db.pragma(`synchronous = ${this.durability === "full" ? "FULL" : "NORMAL"}`);
    // Checkpoints (WAL copied back into the database, with an fsync) are the slowest moment
    // of a call; fewer, larger ones keep them out of all but the rarest calls. The WAL is
    // cut back to 64 MiB after each.
    this.db.pragma("wal_autocheckpoint = 10000");
    this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    withBusyRetry(() => migrate(this.db, file));
    this.statements = prepareStatements(this.db);
    this.totals = prepareUsageTotals(this.db);
    this.approvals = prepareApprovalTable(this.db);
    this.keys = prepareKeyStatements(this.db);
    this.oauth = prepareOAuthStatements(this.db, this.keys);
    this.holds = prepareHoldStatements(this.db);
    this.heartbeatStatements = prepareHeartbeatStatements(this.db);
    this.alerts = prepareAlertTable(this.db);
    const s = this.statements;
    const holds = this.holds;
    const totals = this.totals;
    const approvals = this.approvals;

    this.admitTxn = this.db.transaction(
      (
        request: AdmissionRequest,
        check: AdmitCheck<Refusal>,
        approval: ApprovalUse<Refusal> | undefined,
      ): AdmitResult<Refusal> => {
        const usage = totals.read({ ...request, at: request.created_at });
        const decision = check(usage);
        if (decision.outcome === "deny") return { admitted: false, decision, usage };
        // Used before the insert, so a refusal here leaves nothing behind; linked after it.
        if (approval && !approvals.use(approval.id, request.created_at, null)) {
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
        const { lastInsertRowid } = s.insertAdmission.run({
          ...fields,
          cancellation: fields.cancellation ? 1 : 0,
        });
        const admission: Admission = { ...fields, id: admissionId(Number(lastInsertRowid)) };
        totals.admitted(admission);
        if (approval) s.linkApproval.run({ id: approval.id, admission: admission.id });
        return { admitted: true, admission, usage };
      },
    );

    this.appendTxn = this.db.transaction((given: AuditEntry) => {
      const entry = storedAuditEntry(given);
      const head = s.auditHead.get() as { seq: number; hash: string } | undefined;
      const seq = (head?.seq ?? 0) + 1;
      const prev_hash = head?.hash ?? GENESIS_HASH;
      const record: AuditRecord = {
        ...entry,
        seq,
        prev_hash,
        hash: hashAuditRow(seq, entry, prev_hash),
      };
      s.insertAudit.run(record);
      s.setAuditHead.run({ seq, hash: record.hash });
      s.countAudit.run({
        tool: entry.tool,
        decision: entry.decision,
        rule: entry.rule ?? "",
        code: entry.code ?? "",
      });
      return record;
    });

    this.holdTxn = this.db.transaction(
      (request: HoldRequest, audit: (killed: readonly string[]) => AuditEntry): HoldResult => {
        if (holds.open(request.agent)) return { held: false, killed: [], record: null };
        holds.insert(request);
        const killed = (
          s.killActive.all({
            state: "killed",
            at: request.at,
            by: request.by,
            reason: request.reason,
            agent: request.agent,
          }) as { id: string }[]
        ).map((row) => row.id);
        return { held: true, killed, record: this.appendTxn(audit(killed)) };
      },
    );

    this.releaseTxn = this.db.transaction((request: ReleaseRequest, audit: AuditEntry | null) => {
      if (!holds.release(request)) return { released: false, record: null };
      return { released: true, record: audit ? this.appendTxn(audit) : null };
    });

    this.requestApprovalTxn = this.db.transaction((request: ApprovalRequest) => {
      const open = approvals.findOpen(request.binding, request.created_at);
      if (open) return { approval: open, created: false };
      return { approval: approvals.insert(request), created: true };
    });

    this.decideApprovalTxn = this.db.transaction(
      (
        decision: ApprovalDecision,
        audit: (approval: ApprovalRecord) => AuditEntry,
      ): ApprovalDecisionResult => {
        if (!approvals.decide(decision)) {
          return { applied: false, approval: approvals.get(decision.id) };
        }
        const approval = approvals.get(decision.id);
        if (!approval) throw new Error(`approval ${decision.id} vanished while being decided`);
        return { applied: true, approval, record: this.appendTxn(audit(approval)) };
      },
    );

    this.transitionTxn = this.db.transaction(
      (id: string, change: Change, audit: AuditEntry, when: AuditWhen): TransitionResult => {
        const row = s.admission.get(admissionRowid(id)) as AdmissionRow | undefined;
        const admission = row && toAdmission(row);
        const open = admission?.state === "reserved" || admission?.state === "unknown";
        let applied = false;
        const rowid = admissionRowid(id);
        if (admission && change.to === "unknown" && admission.state === "reserved") {
          s.markUnknown.run({ id: rowid });
          applied = true;
        } else if (admission && open && change.to === "settled") {
          s.settle.run({ id: rowid, ...change.settlement, resolved_at: Date.now() });
          totals.settled(admission, change.settlement.amount_cap);
          if (admission.currency !== null) {
            s.countMoney.run({
              agent: admission.agent,
              currency: admission.currency,
              cap_currency: audit.cap_currency ?? "",
              amount: change.settlement.amount,
              amount_cap: change.settlement.amount_cap,
            });
          }
          applied = true;
        } else if (admission && open && change.to === "released") {
          s.release.run({ id: rowid, resolved_at: Date.now() });
          totals.released(admission);
          applied = true;
        }
        const record = applied || when === "always" ? this.appendTxn(audit) : null;
        return { applied, record };
      },
    );
  }

  async admit<R extends Refusal>(
    request: AdmissionRequest,
    check: AdmitCheck<R>,
    approval?: ApprovalUse<R>,
  ): Promise<AdmitResult<R>> {
    // IMMEDIATE takes the write lock before reading, so the snapshot cannot go stale.
    const atStake = request.amount_cap > 0 || request.cancellation || approval !== undefined;
    // The transaction hands back whichever refusal `check` or `approval` made: an R.
    return this.committed(atStake, () =>
      withBusyRetry(() => this.admitTxn.immediate(request, check, approval)),
    ) as AdmitResult<R>;
  }

  /**
   * Runs a write whose commit must be on disk before it returns when `mustLast` (under
   * `tiered`). In WAL mode a synced commit also makes every earlier commit durable.
   */
  private committed<T>(mustLast: boolean, write: () => T): T {
    if (this.durability !== "tiered" || !mustLast) return write();
    this.db.pragma("synchronous = FULL");
    try {
      return write();
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
  }

  async settle(
    id: string,
    settlement: Settlement,
    audit: AuditEntry,
    when: AuditWhen = "always",
  ): Promise<TransitionResult> {
    return this.transition(id, { to: "settled", settlement }, audit, when);
  }

  async release(
    id: string,
    audit: AuditEntry,
    when: AuditWhen = "always",
  ): Promise<TransitionResult> {
    return this.transition(id, { to: "released" }, audit, when);
  }

  async markUnknown(
    id: string,
    audit: AuditEntry,
    when: AuditWhen = "always",
  ): Promise<TransitionResult> {
    return this.transition(id, { to: "unknown" }, audit, when);
  }

  async findCall(callKey: string): Promise<CallHistory> {
    const row = this.statements.standingCall.get(callKey) as AdmissionRow | undefined;
    const { attempts } = this.statements.callAttempts.get(callKey) as { attempts: number };
    return { standing: row && toAdmission(row), attempts };
  }

  async getAdmission(id: string): Promise<Admission | undefined> {
    const row = this.statements.admission.get(admissionRowid(id)) as AdmissionRow | undefined;
    return row && toAdmission(row);
  }

  async listAdmissions(filter: AdmissionFilter): Promise<Admission[]> {
    const rows = this.statements.listAdmissions.all({
      states: filter.states ? JSON.stringify(filter.states) : null,
      session: filter.session ?? null,
      agent: filter.agent ?? null,
      limit: filter.limit ?? -1,
    }) as AdmissionRow[];
    return rows.map(toAdmission);
  }

  async usage(query: UsageQuery): Promise<UsageSnapshot> {
    return this.totals.read(query);
  }

  async callsInSession(session: string): Promise<Record<string, number>> {
    const rows = this.statements.callsInSession.all(session) as { tool: string; calls: number }[];
    return Object.fromEntries(rows.map((row) => [row.tool, row.calls]));
  }

  async createSession(session: SessionRecord): Promise<void> {
    withBusyRetry(() => this.statements.insertSession.run(session));
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.statements.session.get(id) as SessionRecord | undefined;
  }

  async changeSessionState(id: string, change: StateChange): Promise<boolean> {
    return this.committed(true, () =>
      withBusyRetry(() => this.statements.changeSession.run({ id, ...change }).changes > 0),
    );
  }

  async killActiveSessions(
    change: StateChange & { state: "killed" },
    agent?: string,
  ): Promise<string[]> {
    const rows = this.committed(true, () =>
      withBusyRetry(
        () =>
          this.statements.killActive.all({ ...change, agent: agent ?? null }) as { id: string }[],
      ),
    );
    return rows.map((row) => row.id);
  }

  async listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.statements.listSessions.all({
      state: filter.state ?? null,
      agent: filter.agent ?? null,
      limit: filter.limit ?? -1,
    }) as SessionRecord[];
  }

  async appendAudit(entry: AuditEntry): Promise<AuditRecord> {
    return withBusyRetry(() => this.appendTxn.immediate(entry));
  }

  async queryAudit(filter: AuditFilter): Promise<AuditRecord[]> {
    return this.auditQuery(filter).all({
      session: filter.session,
      agent: filter.agent,
      tool: filter.tool,
      decision: filter.decision,
      since: filter.since,
      afterSeq: filter.afterSeq ?? 0,
      limit: filter.limit ?? -1,
    });
  }

  /**
   * Pages rather than one open cursor: better-sqlite3 refuses other statements on a
   * connection while an iterator is open, and the caller awaits between rows.
   */
  async *iterateAudit(): AsyncIterable<AuditRecord> {
    for (let after = 0; ; ) {
      const page = this.statements.auditPage.all(after, AUDIT_PAGE_ROWS);
      yield* page;
      const last = page.at(-1);
      if (page.length < AUDIT_PAGE_ROWS || !last) return;
      after = last.seq;
    }
  }

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    return this.statements.auditHead.get() as { seq: number; hash: string } | undefined;
  }

  async findOrRequestApproval(request: ApprovalRequest): Promise<{
    approval: ApprovalRecord;
    created: boolean;
  }> {
    return this.committed(true, () =>
      withBusyRetry(() => this.requestApprovalTxn.immediate(request)),
    );
  }

  async decideApproval(
    decision: ApprovalDecision,
    audit: (approval: ApprovalRecord) => AuditEntry,
  ): Promise<ApprovalDecisionResult> {
    return this.committed(true, () =>
      withBusyRetry(() => this.decideApprovalTxn.immediate(decision, audit)),
    );
  }

  async useApproval(id: string, at: number, admission: string | null): Promise<boolean> {
    return this.committed(true, () => withBusyRetry(() => this.approvals.use(id, at, admission)));
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.approvals.get(id);
  }

  async listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.approvals.list(filter);
  }

  async sessionSummaries(filter: SessionFilter): Promise<SessionSummary[]> {
    return this.statements.sessionSummaries.all({
      state: filter.state ?? null,
      agent: filter.agent ?? null,
      limit: filter.limit ?? -1,
    }) as SessionSummary[];
  }

  async report(filter: ReportFilter): Promise<Report> {
    let statements = this.reportQueries.get(filter.by);
    if (!statements) {
      statements = prepareReport(this.db, filter.by);
      this.reportQueries.set(filter.by, statements);
    }
    // The end of year 9999: the last time whose ISO text still sorts as text does.
    const until = Math.min(filter.until ?? LATEST_ISO_TIME, LATEST_ISO_TIME);
    const params = {
      since: filter.since,
      until,
      sinceIso: new Date(filter.since).toISOString(),
      untilIso: new Date(until).toISOString(),
      agent: filter.agent ?? null,
      session: filter.session ?? null,
    };
    return {
      calls: statements.calls.all(params),
      money: statements.money.all(params),
      denials: statements.denials.all(params),
    };
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    this.keys.create(key);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.findByHash(keyHash);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.get(id);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.keys.list();
  }

  async revokeApiKey(id: string, at: number, reason?: string): Promise<boolean> {
    return this.committed(true, () => this.keys.revoke(id, at, reason ?? null));
  }

  async saveOAuthClient(client: OAuthClientRecord): Promise<void> {
    this.oauth.saveClient(client);
  }

  async getOAuthClient(id: string): Promise<OAuthClientRecord | undefined> {
    return this.oauth.getClient(id);
  }

  async listOAuthClients(): Promise<OAuthClientRecord[]> {
    return this.oauth.listClients();
  }

  async countOAuthClients(filter: {
    registration: OAuthClientRegistration;
    since: number;
    registeredBy?: string;
  }): Promise<number> {
    return this.oauth.countClients(filter);
  }

  async createOAuthIdentity(identity: ApiKeyRecord, client?: OAuthClientRecord): Promise<void> {
    this.oauth.createIdentity(identity, client);
  }

  async createOAuthCode(code: OAuthCodeRecord): Promise<void> {
    this.oauth.createCode(code);
  }

  async redeemOAuthCode(codeHash: string, at: number): Promise<CodeRedemption | undefined> {
    return this.oauth.redeemCode(codeHash, at);
  }

  async createOAuthTokens(tokens: readonly OAuthTokenRecord[]): Promise<void> {
    this.oauth.createTokens(tokens);
  }

  async findOAuthToken(tokenHash: string): Promise<OAuthTokenRecord | undefined> {
    return this.oauth.findToken(tokenHash);
  }

  async rotateRefreshToken(
    tokenHash: string,
    at: number,
    next: readonly OAuthTokenRecord[],
  ): Promise<boolean> {
    return this.oauth.rotateRefreshToken(tokenHash, at, next);
  }

  async revokeOAuthToken(tokenHash: string, at: number): Promise<boolean> {
    // A revoked token must stay revoked across a power cut, like a revoked key.
    return this.committed(true, () => this.oauth.revokeToken(tokenHash, at));
  }

  async deleteExpiredOAuth(before: number): Promise<void> {
    this.oauth.deleteExpired(before);
  }

  async recordSessionKey(session: string, keyId: string): Promise<void> {
    this.keys.recordSessionKey(session, keyId);
  }

  async sessionKey(session: string): Promise<string | undefined> {
    return this.keys.sessionKey(session);
  }

  async sessionsKilledSince(at: number, limit: number): Promise<SessionRecord[]> {
    return this.statements.killedSince.all({ at, limit }) as SessionRecord[];
  }

  async agentActivity(
    agent: string,
    tools: readonly string[] | null,
    since: number,
    until: number,
  ): Promise<AgentActivity> {
    return this.statements.agentActivity.get({
      agent,
      tools: tools === null ? null : JSON.stringify(tools),
      since,
      until,
    }) as AgentActivity;
  }

  async holdAgent(
    request: HoldRequest,
    audit: (killed: readonly string[]) => AuditEntry,
  ): Promise<HoldResult> {
    return this.committed(true, () => withBusyRetry(() => this.holdTxn.immediate(request, audit)));
  }

  async releaseAgent(
    request: ReleaseRequest,
    audit: AuditEntry | null,
  ): Promise<{ released: boolean; record: AuditRecord | null }> {
    return this.committed(true, () =>
      withBusyRetry(() => this.releaseTxn.immediate(request, audit)),
    );
  }

  async agentHold(agent: string): Promise<AgentHold | undefined> {
    return this.holds.latest(agent);
  }

  async listAgentHolds(filter: { open?: boolean }): Promise<AgentHold[]> {
    return this.holds.list(filter.open ?? false);
  }

  async enqueueAlert(
    request: AlertDeliveryRequest,
    cooldownMs: number,
  ): Promise<AlertDelivery | undefined> {
    return this.alerts.enqueue(request, cooldownMs);
  }

  async claimAlertDeliveries(claim: DeliveryClaim): Promise<AlertDelivery[]> {
    return this.alerts.claim(claim);
  }

  async recordAlertAttempt(attempt: AlertAttempt, result: AttemptResult): Promise<void> {
    this.alerts.recordAttempt(attempt, result);
  }

  async listAlertDeliveries(filter: DeliveryFilter): Promise<AlertDelivery[]> {
    return this.alerts.list(filter);
  }

  async listAlertAttempts(delivery: string): Promise<AlertAttempt[]> {
    return this.alerts.attempts(delivery);
  }

  async alertDeliveryCounts(): Promise<
    { sink: string; state: AlertDeliveryState; count: number }[]
  > {
    return this.alerts.counts();
  }

  async alertCursor(): Promise<AlertCursor | undefined> {
    return this.alerts.cursor();
  }

  async advanceAlertCursor(cursor: AlertCursor): Promise<void> {
    this.alerts.advance(cursor);
  }

  async auditTotals(): Promise<AuditTotal[]> {
    const rows = this.statements.auditTotals.all() as AuditTotal[];
    return rows.map((row) => ({ ...row, rule: row.rule || null, code: row.code || null }));
  }

  async moneyTotals(): Promise<MoneyTotal[]> {
    const rows = this.statements.moneyTotals.all() as MoneyTotal[];
    return rows.map((row) => ({ ...row, cap_currency: row.cap_currency || null }));
  }

  /**
   * Runs `read` inside one read transaction (`import-sqlite`): `tables` and this store's
   * own reads (`iterateAudit`, `auditHead`) all see one committed state, whatever other
   * processes write meanwhile (WAL keeps the snapshot). No writes through the store inside.
   */
  async readSnapshot<T>(read: (tables: SqliteTables) => Promise<T>): Promise<T> {
    this.db.exec("BEGIN");
    try {
      // A deferred transaction takes its snapshot at its first read.
      withBusyRetry(() => this.db.prepare("SELECT COUNT(*) FROM sqlite_schema").get());
      return await read(new SqliteTables(this.db));
    } finally {
      this.db.exec("COMMIT");
    }
  }

  async beat(owner: OwnerIdentity): Promise<void> {
    this.heartbeatStatements.beat(owner);
  }

  async heartbeats(instances: readonly string[]): Promise<HeartbeatReading> {
    return this.heartbeatStatements.read(instances);
  }

  async forgetHeartbeat(instance: string): Promise<void> {
    this.heartbeatStatements.forget(instance);
  }

  async forgetSilentHeartbeats(ageMs: number): Promise<number> {
    return this.heartbeatStatements.forgetSilent(ageMs);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private transition(
    id: string,
    change: Change,
    audit: AuditEntry,
    when: AuditWhen,
  ): TransitionResult {
    return withBusyRetry(() => this.transitionTxn.immediate(id, change, audit, when));
  }

  /** One prepared statement per combination of filters, made on first use and kept. */
  private auditQuery(filter: AuditFilter): RowStatement<AuditRecord> {
    const conditions = (["session", "agent", "tool", "decision"] as const)
      .filter((column) => filter[column] !== undefined)
      .map((column) => `${column} = @${column}`);
    if (filter.since !== undefined) conditions.push("at >= @since");
    conditions.push("seq > @afterSeq");
    const where = conditions.join(" AND ");
    let statement = this.auditQueries.get(where);
    if (!statement) {
      statement = this.db.prepare(
        `SELECT * FROM (SELECT * FROM audit WHERE ${where} ORDER BY seq DESC LIMIT @limit) ORDER BY seq`,
      ) as RowStatement<AuditRecord>;
      this.auditQueries.set(where, statement);
    }
    return statement;
  }
}

/** What the database in `home` is, without creating or upgrading it (for `spendguard doctor`). */
export interface DatabaseInfo {
  file: string;
  exists: boolean;
  /** Its schema version (`null` when it does not exist). */
  version: number | null;
  /** The schema version this build writes. */
  current: number;
}

export function inspectDatabase(home: string): DatabaseInfo {
  const file = join(home, DATABASE_FILE);
  const current = MIGRATIONS.length;
  if (!existsSync(file)) return { file, exists: false, version: null, current };
  const db = withBusyRetry(() => openDatabase(file, { fileMustExist: true, timeout: 5_000 }));
  try {
    return {
      file,
      exists: true,
      version: db.pragma("user_version", { simple: true }) as number,
      current,
    };
  } finally {
    db.close();
  }
}

/** The grouping column of each table; only these fixed texts ever reach the SQL. */
const REPORT_KEYS: Record<ReportGrouping, { audit: string; admissions: string }> = {
  agent: { audit: "agent", admissions: "agent" },
  session: { audit: "session", admissions: "session" },
  tool: { audit: "tool", admissions: "tool" },
  customer: { audit: "customer", admissions: "customer" },
  day: {
    audit: "substr(at, 1, 10)",
    admissions: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
  },
};

function prepareReport(db: Database.Database, by: ReportGrouping) {
  const prepare = <Row>(sql: string) => db.prepare(sql) as unknown as RowStatement<Row>;
  const key = REPORT_KEYS[by];
  // Reconciliation rows settle earlier calls, approval rows record a person's decision
  // about one: neither is a call itself.
  const auditWhere = `at >= @sinceIso AND at < @untilIso
    AND (@agent IS NULL OR agent = @agent) AND (@session IS NULL OR session = @session)
    AND (rule IS NULL OR rule NOT IN ('reconcile', 'approval'))`;
  return {
    calls: prepare<ReportCallsRow>(`
      SELECT ${key.audit} AS key, COUNT(*) AS calls,
        SUM(CASE WHEN decision = 'allow' AND outcome IN ('ok', 'replayed') THEN 1 ELSE 0 END) AS ok,
        SUM(CASE WHEN outcome = 'replayed' THEN 1 ELSE 0 END) AS replayed,
        SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS denied,
        SUM(CASE WHEN decision = 'error' OR (decision = 'allow' AND outcome NOT IN ('ok', 'replayed'))
          THEN 1 ELSE 0 END) AS errors
      FROM audit WHERE ${auditWhere}
      GROUP BY 1 ORDER BY 1`),
    // A session runs under one policy, so its audit rows name its one cap currency.
    money: prepare<ReportMoneyRow>(`
      SELECT ${key.admissions} AS key,
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
      WHERE created_at >= @since AND created_at < @until
        AND (amount_cap > 0 OR revenue_at_risk_cap IS NOT NULL)
        AND (@agent IS NULL OR agent = @agent) AND (@session IS NULL OR session = @session)
      GROUP BY 1, 2 ORDER BY 1, 2`),
    denials: prepare<ReportDenialRow>(`
      SELECT ${key.audit} AS key, rule, code, COUNT(*) AS count
      FROM audit WHERE decision = 'deny' AND ${auditWhere}
      GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3`),
  };
}

function migrate(db: Database.Database, file: string): void {
  db.transaction(() => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new ConfigError(
        `${file} was written by a newer spendguard (schema ${version}, this one knows ${MIGRATIONS.length}); upgrade spendguard or use another SPENDGUARD_HOME.`,
      );
    }
    for (let next = version; next < MIGRATIONS.length; next++) db.exec(MIGRATIONS[next] ?? "");
    if (version < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function toAdmission(row: AdmissionRow): Admission {
  return { ...row, id: admissionId(row.id), cancellation: row.cancellation === 1 };
}

function prepareStatements(db: Database.Database) {
  const prepare = <Row = unknown>(sql: string) => db.prepare(sql) as unknown as RowStatement<Row>;
  return {
    insertAdmission: prepare(`
      INSERT INTO admissions (session, agent, tool, customer, call_key, idempotency_key,
        repeat_of, amount, currency, amount_cap, reserved_amount_cap, revenue_at_risk_cap,
        cancellation, state, owner_pid, owner_host, owner_instance, args, account,
        created_at, resolved_at, stripe_request_id, result)
      VALUES (@session, @agent, @tool, @customer, @call_key, @idempotency_key, @repeat_of,
        @amount, @currency, @amount_cap, @reserved_amount_cap, @revenue_at_risk_cap,
        @cancellation, @state, @owner_pid, @owner_host, @owner_instance, @args, @account,
        @created_at, @resolved_at, @stripe_request_id, @result)`),
    settle: prepare(`
      UPDATE admissions SET state = 'settled', amount = @amount, amount_cap = @amount_cap,
        stripe_request_id = @stripe_request_id, result = @result, resolved_at = @resolved_at
      WHERE id = @id AND state IN ('reserved', 'unknown')`),
    release: prepare(`
      UPDATE admissions SET state = 'released', resolved_at = @resolved_at
      WHERE id = @id AND state IN ('reserved', 'unknown')`),
    markUnknown: prepare(
      `UPDATE admissions SET state = 'unknown' WHERE id = @id AND state = 'reserved'`,
    ),
    linkApproval: prepare(`UPDATE approvals SET admission = @admission WHERE id = @id`),
    standingCall: prepare<AdmissionRow>(`
      SELECT * FROM admissions WHERE call_key = ? AND state != 'released'
      ORDER BY id DESC LIMIT 1`),
    callAttempts: prepare(`SELECT COUNT(*) AS attempts FROM admissions WHERE call_key = ?`),
    admission: prepare<AdmissionRow>(`SELECT * FROM admissions WHERE id = ?`),
    listAdmissions: prepare<AdmissionRow>(`
      SELECT * FROM admissions
      WHERE (@states IS NULL OR state IN (SELECT value FROM json_each(@states)))
        AND (@session IS NULL OR session = @session) AND (@agent IS NULL OR agent = @agent)
      ORDER BY id LIMIT @limit`),
    callsInSession: prepare(
      `SELECT tool, calls FROM session_tool_calls WHERE session = ? ORDER BY tool`,
    ),
    insertSession: prepare(`
      INSERT INTO sessions (id, agent, policy_name, policy_hash, started_at, expires_at, state,
        state_changed_at, killed_by, kill_reason)
      VALUES (@id, @agent, @policy_name, @policy_hash, @started_at, @expires_at, @state,
        @state_changed_at, @killed_by, @kill_reason)`),
    session: prepare<SessionRecord>(`SELECT * FROM sessions WHERE id = ?`),
    changeSession: prepare(`
      UPDATE sessions SET state = @state, state_changed_at = @at, killed_by = @by,
        kill_reason = @reason
      WHERE id = @id AND state = 'active'`),
    killActive: prepare<{ id: string }>(`
      UPDATE sessions SET state = @state, state_changed_at = @at, killed_by = @by,
        kill_reason = @reason
      WHERE state = 'active' AND (@agent IS NULL OR agent = @agent)
      RETURNING id`),
    listSessions: prepare<SessionRecord>(`
      SELECT * FROM sessions
      WHERE (@state IS NULL OR state = @state) AND (@agent IS NULL OR agent = @agent)
      ORDER BY started_at DESC, id LIMIT @limit`),
    insertAudit: prepare(`
      INSERT INTO audit (seq, at, session, agent, tool, args, decision, code, rule, reason,
        stripe_request_id, idempotency_key, amount, currency, amount_cap, cap_currency,
        revenue_at_risk_cap, customer, outcome, duration_ms, prev_hash, hash)
      VALUES (@seq, @at, @session, @agent, @tool, @args, @decision, @code, @rule, @reason,
        @stripe_request_id, @idempotency_key, @amount, @currency, @amount_cap, @cap_currency,
        @revenue_at_risk_cap, @customer, @outcome, @duration_ms, @prev_hash, @hash)`),
    auditHead: prepare<{ seq: number; hash: string }>(
      `SELECT seq, hash FROM audit_head WHERE id = 1`,
    ),
    setAuditHead: prepare(`
      INSERT INTO audit_head (id, seq, hash) VALUES (1, @seq, @hash)
      ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`),
    auditPage: prepare<AuditRecord>(`SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`),
    countAudit: prepare(`
      INSERT INTO audit_totals (tool, decision, rule, code, count)
      VALUES (@tool, @decision, @rule, @code, 1)
      ON CONFLICT DO UPDATE SET count = count + 1`),
    countMoney: prepare(`
      INSERT INTO money_totals (agent, currency, cap_currency, amount, amount_cap)
      VALUES (@agent, @currency, @cap_currency, @amount, @amount_cap)
      ON CONFLICT DO UPDATE SET amount = amount + excluded.amount,
        amount_cap = amount_cap + excluded.amount_cap`),
    auditTotals: prepare(
      `SELECT tool, decision, rule, code, count FROM audit_totals ORDER BY 1, 2, 3, 4`,
    ),
    moneyTotals: prepare(
      `SELECT agent, currency, amount, cap_currency, amount_cap FROM money_totals ORDER BY 1, 2, 4`,
    ),
    killedSince: prepare<SessionRecord>(`
      SELECT * FROM sessions WHERE state = 'killed' AND state_changed_at >= @at
      ORDER BY state_changed_at, id LIMIT @limit`),
    agentActivity: prepare(`
      SELECT COUNT(*) AS money_calls, COALESCE(SUM(amount_cap), 0) AS amount_cap
      FROM admissions
      WHERE agent = @agent AND created_at > @since AND created_at <= @until
        AND amount_cap > 0 AND state != 'released'
        AND (@tools IS NULL OR tool IN (SELECT value FROM json_each(@tools)))`),
    sessionSummaries: prepare<SessionSummary>(`
      SELECT s.*,
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
      WHERE (@state IS NULL OR s.state = @state) AND (@agent IS NULL OR s.agent = @agent)
      ORDER BY s.started_at DESC, s.id LIMIT @limit`),
  };
}
