import type { AuditDecision, AuditEntry, AuditRecord } from "../audit/record.js";

export type { AuditDecision, AuditEntry, AuditOutcome, AuditRecord } from "../audit/record.js";

/**
 * What the guard needs from storage. SQLite (`sqlite/`) is the embedded default; a
 * Postgres backend will implement the same interface, so nothing here may assume SQLite.
 * Every method is asynchronous, since a networked database answers later; an embedded
 * one answers at once, wrapped.
 * Persisted records use the column names (snake_case), as operators and the CLI see them.
 * Times are milliseconds since the epoch from the guard's clock, except audit `at` (ISO).
 */

// ---------------------------------------------------------------------------------------
// The ledger

/**
 * `reserved`: counted, the Stripe call may be under way. `settled`: counted with what
 * Stripe reports. `released`: Stripe surely did not apply it; counts for nothing but rate
 * limits. `unknown`: may have been applied; counted until reconciled.
 */
export type AdmissionState = "reserved" | "settled" | "released" | "unknown";

/** One call the policy allowed, asking to be counted. */
export interface AdmissionRequest {
  session: string;
  agent: string;
  tool: string;
  customer: string | null;
  /** The call (session, tool, account, arguments) a write is, whatever key an attempt sent. */
  call_key: string | null;
  /** The `Idempotency-Key` this attempt sends; `null` for reads and counted repeats. */
  idempotency_key: string | null;
  /** For an admission that only counts a repeat of an earlier write: that write. */
  repeat_of: string | null;
  /** Money the call moves in its own currency's minor unit; 0 for reads. */
  amount: number;
  currency: string | null;
  /** The same in the cap currency's minor unit, rounded up. */
  amount_cap: number;
  revenue_at_risk_cap: number | null;
  /** Puts recurring revenue at risk (a cancellation): counted against cancellation caps. */
  cancellation: boolean;
  /** Canonical JSON of the redacted tool arguments, so the call can be replayed. */
  args: string;
  /** Connected account (`Stripe-Account`), `null` for the platform. */
  account: string | null;
  /** The process that will send the request; a dead owner means the outcome needs checking. */
  owner_pid: number;
  /**
   * The owner's host (`SPENDGUARD_HOST_ID`, default its host name) and the random id of its
   * process instance, whose heartbeat tells other hosts it is alive. `null` on rows written
   * before owners had them (only `owner_pid` says anything of those).
   */
  owner_host: string | null;
  owner_instance: string | null;
  created_at: number;
}

export interface Admission extends AdmissionRequest {
  id: string;
  state: AdmissionState;
  /** What was reserved, before settlement replaced `amount_cap` with what Stripe reported. */
  reserved_amount_cap: number;
  resolved_at: number | null;
  stripe_request_id: string | null;
  /** What the guard recorded of a settled write (JSON), to answer its repeats. */
  result: string | null;
}

/** Everything the cap and limit checks need, read inside the admitting transaction. */
export interface UsageSnapshot {
  /** Cap-currency minor units counted in this session (settled + reserved + unknown). */
  sessionSpend: number;
  /** … by this agent in the rolling 24 h (reserved and unknown count whatever their age). */
  daySpend: number;
  /** … by this agent on this customer in the rolling 24 h (0 without a customer). */
  customerDaySpend: number;
  /** Calls of this tool in this session, released ones included. */
  toolCallsSession: number;
  /** Calls of this tool by this agent in the rolling hour, released ones included. */
  toolCallsHour: number;
  cancellationsSession: number;
  cancellationsDay: number;
}

export interface UsageQuery {
  session: string;
  agent: string;
  tool: string;
  customer: string | null;
  at: number;
}

/** A refusal as the guard decides it: the store only tells it from a yes, and hands it back. */
export interface Refusal {
  outcome: "deny";
}

/** The guard's verdict on a usage snapshot, made inside the admitting transaction. */
export type AdmitCheck<R extends Refusal> = (usage: UsageSnapshot) => { outcome: "allow" } | R;

export type AdmitResult<R extends Refusal> =
  | { admitted: true; admission: Admission; usage: UsageSnapshot }
  | { admitted: false; decision: R; usage: UsageSnapshot };

export interface Settlement {
  /** What Stripe reports it moved, in the call's currency. */
  amount: number;
  amount_cap: number;
  stripe_request_id: string | null;
  /** What the guard records of the call's result (JSON), to answer a repeat; `null` for none. */
  result: string | null;
}

/** The admissions of one call (`call_key`): the one that stands, and how many were made. */
export interface CallHistory {
  /** The latest that was not released (a release means "never happened"). */
  standing: Admission | undefined;
  /** Every attempt, released ones included: what numbers the next attempt's key. */
  attempts: number;
}

/** Result of a ledger transition; `applied` is false when the admission was already resolved. */
export interface TransitionResult {
  applied: boolean;
  /** The audit row appended in the same transaction (absent when told to skip it). */
  record: AuditRecord | null;
}

/** `always`: the audit row is appended whatever happened; `if-applied`: only with the transition. */
export type AuditWhen = "always" | "if-applied";

export interface AdmissionFilter {
  states?: readonly AdmissionState[];
  session?: string;
  agent?: string;
  limit?: number;
}

// ---------------------------------------------------------------------------------------
// Sessions

export type SessionState = "active" | "killed" | "expired" | "ended";

export interface SessionRecord {
  id: string;
  agent: string;
  policy_name: string;
  policy_hash: string;
  started_at: number;
  expires_at: number | null;
  state: SessionState;
  /** When the state left `active`. */
  state_changed_at: number | null;
  killed_by: string | null;
  /** Why it was killed or ended. */
  kill_reason: string | null;
}

export interface SessionFilter {
  state?: SessionState;
  agent?: string;
  limit?: number;
}

export interface StateChange {
  state: Exclude<SessionState, "active">;
  at: number;
  by: string | null;
  reason: string | null;
}

// ---------------------------------------------------------------------------------------
// Audit

export interface AuditFilter {
  session?: string;
  agent?: string;
  tool?: string;
  decision?: AuditDecision;
  /** ISO time; rows at or after it. */
  since?: string;
  /** Rows with a larger `seq` (for following the log). */
  afterSeq?: number;
  /** The most recent `limit` rows (still returned oldest first). */
  limit?: number;
}

// ---------------------------------------------------------------------------------------
// Approvals (a person's yes for one call)

/**
 * `pending`: waiting for a person. `approved`: usable by one call until `expires_at`.
 * `rejected`: refuses the same call until `expires_at`. `expired`: nobody answered in time
 * (an in-band request). `used`: an admission spent it. A `pending` or `approved` row past
 * `expires_at` is expired without being rewritten.
 */
export type ApprovalState = "pending" | "approved" | "rejected" | "expired" | "used";

/** A call asking for a person's yes. */
export interface ApprovalRequest {
  /** `apr_` and 24 hex digits. */
  id: string;
  /** What it is bound to (session, tool, account, arguments, customer, money), hashed. */
  binding: string;
  session: string;
  agent: string;
  tool: string;
  /** Canonical JSON of the redacted arguments. */
  args: string;
  account: string | null;
  customer: string | null;
  /** Money the call moves in its own currency's minor unit; `null` when none moves. */
  amount: number | null;
  currency: string | null;
  amount_cap: number | null;
  cap_currency: string;
  /** The policy field that asks for approval (`require_approval_over`, `require_approval_for[0]`). */
  rule: string;
  /** What the person is shown. */
  summary: string;
  /** How long it waits, and how long a decision holds once made (`approval_ttl`). */
  ttl_ms: number;
  /** Who may say yes: the MCP client's user (`client`), the `operator`, or `either`. */
  approval_via: "operator" | "client" | "either";
  created_at: number;
  expires_at: number;
}

export interface ApprovalRecord extends ApprovalRequest {
  state: ApprovalState;
  decided_at: number | null;
  /** `elicitation`, `cli`, or the operator who decided. */
  decided_by: string | null;
  decision_reason: string | null;
  used_at: number | null;
  /** The admission that used it. */
  admission: string | null;
}

export interface ApprovalDecision {
  id: string;
  to: "approved" | "rejected" | "expired";
  at: number;
  by: string;
  reason: string | null;
}

export type ApprovalDecisionResult =
  | { applied: true; approval: ApprovalRecord; record: AuditRecord }
  /** Not pending any more (or past its expiry, or no such id: `approval` undefined). */
  | { applied: false; approval: ApprovalRecord | undefined };

/** An approval the admission must use up, or else be refused with `unusable()`. */
export interface ApprovalUse<R extends Refusal> {
  id: string;
  unusable(): R;
}

export interface ApprovalFilter {
  /** Only these stored states. */
  states?: readonly ApprovalState[];
  session?: string;
  agent?: string;
  /** Only rows still open at this time (`expires_at` after it). */
  openAt?: number;
  /** Only rows whose session is still active (a killed or ended one can use no approval). */
  liveSession?: boolean;
  /** The most recent `limit` rows. */
  limit?: number;
}

// ---------------------------------------------------------------------------------------
// Operator views (the CLI's `sessions` and `report`)

/** A session with what it did: for `spendguard sessions`. */
export interface SessionSummary extends SessionRecord {
  /** Cap-currency minor units counted in the session (settled + reserved + unknown). */
  spent: number;
  /** The cap currency its audit rows name; `null` until a money-moving call was recorded. */
  cap_currency: string | null;
  /** Tool calls recorded in the audit (reconciliation rows are not calls). */
  calls: number;
  denied: number;
  /** ISO time of its last audit row. */
  last_call_at: string | null;
}

export type ReportGrouping = "agent" | "session" | "tool" | "day" | "customer";

export interface ReportFilter {
  /** ms since the epoch; calls at or after it. */
  since: number;
  /** ms since the epoch; calls before it (default: no end). */
  until?: number;
  /** `day` is the UTC date (YYYY-MM-DD). */
  by: ReportGrouping;
  agent?: string;
  session?: string;
}

/** Calls per group, from the audit (reconciliation rows are not calls). */
export interface ReportCallsRow {
  /** The group's value; `null` for calls with no customer when grouping by customer. */
  key: string | null;
  calls: number;
  /** Allowed and done (replays included). */
  ok: number;
  replayed: number;
  denied: number;
  /** Malformed, failed at Stripe, or with an unknown outcome. */
  errors: number;
}

/** Money per group and cap currency, from the ledger, cap-currency minor units. */
export interface ReportMoneyRow {
  key: string | null;
  /** From the session's audit rows; `null` if none was recorded yet. */
  cap_currency: string | null;
  /** Money-moving calls admitted (released ones included). */
  money_calls: number;
  settled: number;
  reserved: number;
  unknown: number;
  /** Monthly revenue put at risk by cancellations not released. */
  revenue_at_risk: number;
}

export interface ReportDenialRow {
  key: string | null;
  rule: string | null;
  code: string | null;
  count: number;
}

export interface Report {
  calls: ReportCallsRow[];
  money: ReportMoneyRow[];
  denials: ReportDenialRow[];
}

// ---------------------------------------------------------------------------------------
// API keys (who may open an HTTP session)

/** `agent`: opens guarded Stripe sessions under its policy. `operator`: the control tools. */
export type ApiKeyKind = "agent" | "operator";

/**
 * What proves an identity on a request. `key`: a static key (`sg_agent_…`, `sg_op_…`), by
 * its hash. `oauth_grant`: an operator's consent to an OAuth client (authorization code
 * flow), proven by the access tokens issued under it. `oauth_client`: a client made with
 * `keys create --oauth-client`, which trades its secret for access tokens
 * (`client_credentials`). Either way the identity is one row: listed, expired and revoked
 * alike.
 */
export type ApiKeyCredential = "key" | "oauth_grant" | "oauth_client";

/** An identity as stored: a key's SHA-256 (never the key itself), or the OAuth client behind it. */
export interface ApiKeyRecord {
  /** `key_` and 16 hex digits: how the identity is named in logs, the audit and the CLI. */
  id: string;
  kind: ApiKeyKind;
  /** The agent's name (its caps are counted per agent) or the operator's. */
  name: string;
  /** Absolute path of an agent's policy file; `null` for operator keys. */
  policy_file: string | null;
  credential: ApiKeyCredential;
  /** SHA-256 (hex) of the whole key; `null` for OAuth identities. */
  key_hash: string | null;
  /** The OAuth client (`client_id`) of an OAuth identity; `null` for keys. */
  oauth_client: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** Why it was revoked, when not by the operator's `keys revoke` (a reused refresh token…). */
  revoked_reason: string | null;
}

// ---------------------------------------------------------------------------------------
// OAuth (spendguard as the authorization server of its own MCP endpoint)

/**
 * How a client came to be known. `dynamic`: RFC 7591 registration. `metadata_document`:
 * its `client_id` is an HTTPS URL whose JSON document was fetched (and is cached here).
 * `operator`: made by `keys create --oauth-client` for the `client_credentials` grant.
 */
export type OAuthClientRegistration = "dynamic" | "metadata_document" | "operator";

/** `none`: a public client (PKCE only); the others present a secret at the token endpoint. */
export type TokenEndpointAuthMethod = "none" | "client_secret_basic" | "client_secret_post";

export interface OAuthClientRecord {
  /** The `client_id`: `sgc_…` for registered clients, the document's URL for metadata documents. */
  id: string;
  registration: OAuthClientRegistration;
  /** `client_name`, bounded and well-formed: what the consent page shows. */
  name: string;
  /** JSON array of the exact redirect URIs. */
  redirect_uris: string;
  /** JSON array of the grant types it may use. */
  grant_types: string;
  auth_method: TokenEndpointAuthMethod;
  /** SHA-256 (hex) of its secret; `null` for public clients. */
  secret_hash: string | null;
  client_uri: string | null;
  /** Who registered it: the remote address of a dynamic registration, `cli` for operator clients. */
  registered_by: string | null;
  created_at: number;
  /** A metadata document: until when the copy fetched is fresh (its Cache-Control, bounded). */
  fresh_until: number | null;
}

/** An authorization code, by its hash: redeemable once, until `expires_at`. */
export interface OAuthCodeRecord {
  code_hash: string;
  client_id: string;
  /** The grant (`api_keys` id) the operator's consent created. */
  grant_id: string;
  redirect_uri: string;
  /** PKCE S256 challenge: base64url SHA-256 of the verifier. */
  code_challenge: string;
  /** The resource (RFC 8707) the tokens will be for. */
  resource: string;
  scope: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export type OAuthTokenKind = "access" | "refresh";

/** An access or refresh token, by its hash. */
export interface OAuthTokenRecord {
  token_hash: string;
  kind: OAuthTokenKind;
  /** The identity (`api_keys` id) it acts as. */
  grant_id: string;
  client_id: string;
  /** The audience (RFC 8707): the resource it may be presented to. */
  resource: string;
  scope: string;
  created_at: number;
  expires_at: number;
  /** A refresh token: when it was exchanged for a new pair (using it again is a reuse). */
  rotated_at: number | null;
  revoked_at: number | null;
}

/** What a code's redemption found: the code as it was, and whether this was its first use. */
export interface CodeRedemption {
  code: OAuthCodeRecord;
  firstUse: boolean;
}

// ---------------------------------------------------------------------------------------
// Agent holds (an agent paused until an operator resumes it)

/**
 * An agent kept out: its active sessions were killed when the hold began, and every
 * session it starts while the hold is open is killed at birth. `released_at` is set when
 * an operator resumes it.
 */
export interface AgentHold {
  agent: string;
  held_at: number;
  /** Who paused it (`auto-pause` for a velocity rule); becomes the sessions' `killed_by`. */
  held_by: string;
  /** The sessions' `kill_reason` (`auto-pause: …`). */
  reason: string;
  released_at: number | null;
  released_by: string | null;
  release_reason: string | null;
}

export interface HoldRequest {
  agent: string;
  at: number;
  by: string;
  reason: string;
}

export interface HoldResult {
  /** False when the agent was already held: nothing changed. */
  held: boolean;
  /** Sessions moved from active to killed. */
  killed: string[];
  record: AuditRecord | null;
}

export interface ReleaseRequest {
  agent: string;
  at: number;
  by: string;
  reason: string | null;
}

// ---------------------------------------------------------------------------------------
// Alert deliveries (the durable outbox)

/**
 * `pending`: to be sent (again) at `next_attempt_at`; a process sending it holds a lease
 * until `lease_until`. `delivered`: a receiver answered 2xx. `failed`: given up.
 */
export type AlertDeliveryState = "pending" | "delivered" | "failed";

/** One alert for one sink, as the outbox keeps it. */
export interface AlertDeliveryRequest {
  /** `alr_…`: the alert, the same for every sink and however often its event is seen. */
  alert: string;
  sink: string;
  /** The event kind (`cap_denied`, `velocity`, …, `test`). */
  type: string;
  /** The rule that fired (`rules[0]`); `test` for `spendguard alerts test`. */
  rule: string;
  agent: string | null;
  /** Deliveries with the same key are kept at least a cool-down apart (by `event_at`). */
  cooldown_key: string;
  event_at: number;
  /** One line for people (`spendguard alerts`). */
  summary: string;
  /** The exact body that is POSTed. */
  body: string;
  created_at: number;
}

export interface AlertDelivery extends AlertDeliveryRequest {
  /** `dlv_<n>`. */
  id: string;
  state: AlertDeliveryState;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  /** HTTP status of the last attempt; `null` if it got no answer. */
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
}

/** One try at sending a delivery. */
export interface AlertAttempt {
  delivery: string;
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface AttemptResult {
  state: AlertDeliveryState;
  /** When to try again (`pending`); ignored otherwise. */
  next_attempt_at: number;
}

export interface DeliveryClaim {
  /** Only deliveries to these sinks (the ones this process can reach). */
  sinks: readonly string[];
  now: number;
  /** How long the claimer may take before another process may try the same delivery. */
  leaseMs: number;
  limit: number;
}

export interface DeliveryFilter {
  state?: AlertDeliveryState;
  sink?: string;
  /** The most recent `limit`. */
  limit?: number;
}

/** How far alert evaluation has got, shared by every process on the store. */
export interface AlertCursor {
  /** Audit rows up to this `seq` have been evaluated. */
  audit_seq: number;
  /** Kills (session state changes) up to this time have been evaluated. */
  killed_at: number;
}

/** Money-moving admissions of an agent in a window (released ones do not count). */
export interface AgentActivity {
  money_calls: number;
  /** Cap-currency minor units. */
  amount_cap: number;
}

// ---------------------------------------------------------------------------------------
// Owner heartbeats (which processes that reserve writes are alive)

/** A process that can own reservations, as it announces itself. */
export interface OwnerIdentity {
  /** Random, one per process start: the `owner_instance` of its admissions. */
  instance: string;
  host: string;
  pid: number;
}

/** Times are the database's clock, so hosts whose clocks disagree compare them alike. */
export interface OwnerHeartbeat extends OwnerIdentity {
  /** Its first beat. */
  started_at: number;
  /** Its latest beat. */
  seen_at: number;
}

export interface HeartbeatReading {
  /** The database's clock when it was read: what `seen_at` is to be compared with. */
  now: number;
  beats: OwnerHeartbeat[];
}

// ---------------------------------------------------------------------------------------
// Running totals (for /metrics)

/** Audit rows per tool, decision, rule and code, since the first row. */
export interface AuditTotal {
  tool: string;
  decision: AuditDecision;
  rule: string | null;
  code: string | null;
  count: number;
}

/** Money Stripe confirmed, per agent and currency, since the first call. */
export interface MoneyTotal {
  agent: string;
  currency: string;
  /** Minor units of `currency`. */
  amount: number;
  cap_currency: string | null;
  /** Minor units of `cap_currency`. */
  amount_cap: number;
}

// ---------------------------------------------------------------------------------------

export interface Store {
  /**
   * Reads the usage snapshot and inserts the admission only if `check` allows it, in one
   * write transaction that excludes every other writer (every process on the same data):
   * two calls can never both take the last dollar of a cap. With `approval`, that
   * approval is used up in the same transaction, and without it nothing is admitted.
   */
  admit<R extends Refusal>(
    request: AdmissionRequest,
    check: AdmitCheck<R>,
    approval?: ApprovalUse<R>,
  ): Promise<AdmitResult<R>>;
  settle(
    id: string,
    settlement: Settlement,
    audit: AuditEntry,
    when?: AuditWhen,
  ): Promise<TransitionResult>;
  release(id: string, audit: AuditEntry, when?: AuditWhen): Promise<TransitionResult>;
  markUnknown(id: string, audit: AuditEntry, when?: AuditWhen): Promise<TransitionResult>;
  /** The admissions made for one call (see `CallHistory`). */
  findCall(callKey: string): Promise<CallHistory>;
  getAdmission(id: string): Promise<Admission | undefined>;
  listAdmissions(filter: AdmissionFilter): Promise<Admission[]>;
  /** Usage outside any admission, for status views and "what is left" lines. */
  usage(query: UsageQuery): Promise<UsageSnapshot>;
  /** Calls per tool in one session (released ones included). */
  callsInSession(session: string): Promise<Record<string, number>>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Moves an `active` session to another state; false if it was not active (never revives). */
  changeSessionState(id: string, change: StateChange): Promise<boolean>;
  /** Kills every active session (of one agent if given); returns the ids killed. */
  killActiveSessions(change: StateChange & { state: "killed" }, agent?: string): Promise<string[]>;
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;

  appendAudit(entry: AuditEntry): Promise<AuditRecord>;
  queryAudit(filter: AuditFilter): Promise<AuditRecord[]>;
  /** Every row in `seq` order, streamed. */
  iterateAudit(): AsyncIterable<AuditRecord>;
  /** The last row's seq and hash as recorded when it was appended (catches a cut-off tail). */
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;

  /**
   * The newest approval bound to `request.binding` that still holds at `created_at`
   * (pending, approved or rejected, not expired); if there is none, `request` as a new
   * pending one. One transaction, so identical calls at once share one request.
   */
  findOrRequestApproval(
    request: ApprovalRequest,
  ): Promise<{ approval: ApprovalRecord; created: boolean }>;
  /**
   * Decides a pending approval that has not expired, appending the audit row `audit`
   * builds from it in the same transaction. Anything else is left as it is.
   */
  decideApproval(
    decision: ApprovalDecision,
    audit: (approval: ApprovalRecord) => AuditEntry,
  ): Promise<ApprovalDecisionResult>;
  /** Uses up an approved, unexpired approval for `admission` (a replayed call's); false if it cannot be. */
  useApproval(id: string, at: number, admission: string | null): Promise<boolean>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** Newest first. */
  listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]>;

  /** Sessions (newest first) with their spend, calls and denials. */
  sessionSummaries(filter: SessionFilter): Promise<SessionSummary[]>;
  /** Calls, money and denials over a period, grouped one way. */
  report(filter: ReportFilter): Promise<Report>;

  createApiKey(key: ApiKeyRecord): Promise<void>;
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** Oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /**
   * Marks the identity revoked (with why, when not the operator's own command); false if
   * there is no such identity or it was revoked already. An OAuth identity's tokens all
   * stop working with it.
   */
  revokeApiKey(id: string, at: number, reason?: string): Promise<boolean>;

  /** Inserts a client, or replaces it (a metadata document fetched again). */
  saveOAuthClient(client: OAuthClientRecord): Promise<void>;
  getOAuthClient(id: string): Promise<OAuthClientRecord | undefined>;
  /** Oldest first. */
  listOAuthClients(): Promise<OAuthClientRecord[]>;
  /** Clients registered this way since `since` (by `registeredBy`, if given): for rate limits. */
  countOAuthClients(filter: {
    registration: OAuthClientRegistration;
    since: number;
    registeredBy?: string;
  }): Promise<number>;
  /** Creates an OAuth identity (a grant, or an operator's client) and its client together. */
  createOAuthIdentity(identity: ApiKeyRecord, client?: OAuthClientRecord): Promise<void>;
  createOAuthCode(code: OAuthCodeRecord): Promise<void>;
  /** Marks a code used, atomically: `firstUse` is true for exactly one caller. */
  redeemOAuthCode(codeHash: string, at: number): Promise<CodeRedemption | undefined>;
  /** Stores tokens issued together (an access token and its refresh token). */
  createOAuthTokens(tokens: readonly OAuthTokenRecord[]): Promise<void>;
  findOAuthToken(tokenHash: string): Promise<OAuthTokenRecord | undefined>;
  /**
   * Exchanges a refresh token for `next`, atomically: false (and nothing stored) when it
   * was rotated or revoked already, so a token can be used exactly once.
   */
  rotateRefreshToken(
    tokenHash: string,
    at: number,
    next: readonly OAuthTokenRecord[],
  ): Promise<boolean>;
  /** Revokes one token; false if there is none or it was revoked already. */
  revokeOAuthToken(tokenHash: string, at: number): Promise<boolean>;
  /** Forgets codes and tokens that expired before `before` (they can prove nothing any more). */
  deleteExpiredOAuth(before: number): Promise<void>;
  /** Records which key opened a session. */
  recordSessionKey(session: string, keyId: string): Promise<void>;
  /** The key that opened a session; `undefined` for stdio sessions. */
  sessionKey(session: string): Promise<string | undefined>;

  /** Killed sessions whose state changed at or after `at`, oldest change first. */
  sessionsKilledSince(at: number, limit: number): Promise<SessionRecord[]>;
  /**
   * Money-moving admissions of `agent` (of these tools, if given) created after `since`
   * and at or before `until`.
   */
  agentActivity(
    agent: string,
    tools: readonly string[] | null,
    since: number,
    until: number,
  ): Promise<AgentActivity>;

  /**
   * In one transaction, when `request.agent` has no open hold: records one, kills the
   * agent's active sessions (by and reason as the hold's) and appends the audit row
   * `audit` builds. Otherwise nothing changes.
   */
  holdAgent(
    request: HoldRequest,
    audit: (killed: readonly string[]) => AuditEntry,
  ): Promise<HoldResult>;
  /** Closes the agent's open hold (and appends `audit` with it); false if there was none. */
  releaseAgent(
    request: ReleaseRequest,
    audit: AuditEntry | null,
  ): Promise<{ released: boolean; record: AuditRecord | null }>;
  /** The agent's latest hold, open or released. */
  agentHold(agent: string): Promise<AgentHold | undefined>;
  /** Newest first; `open` only those not released. */
  listAgentHolds(filter: { open?: boolean }): Promise<AgentHold[]>;

  /**
   * Adds a delivery, unless the same alert is queued for that sink already, or another
   * delivery with the same `cooldown_key` has an `event_at` less than `cooldownMs` away.
   * Returns it, or `undefined` when it was not added.
   */
  enqueueAlert(
    request: AlertDeliveryRequest,
    cooldownMs: number,
  ): Promise<AlertDelivery | undefined>;
  /** Pending deliveries due at `now` and not leased, leased to the caller (oldest first). */
  claimAlertDeliveries(claim: DeliveryClaim): Promise<AlertDelivery[]>;
  /** Records one attempt and where it leaves the delivery (the lease ends). */
  recordAlertAttempt(attempt: AlertAttempt, result: AttemptResult): Promise<void>;
  /** Newest first. */
  listAlertDeliveries(filter: DeliveryFilter): Promise<AlertDelivery[]>;
  /** Oldest first. */
  listAlertAttempts(delivery: string): Promise<AlertAttempt[]>;
  alertDeliveryCounts(): Promise<{ sink: string; state: AlertDeliveryState; count: number }[]>;
  alertCursor(): Promise<AlertCursor | undefined>;
  /** Moves the shared cursor forward (never back). */
  advanceAlertCursor(cursor: AlertCursor): Promise<void>;

  auditTotals(): Promise<AuditTotal[]>;
  moneyTotals(): Promise<MoneyTotal[]>;

  /** Records that `owner` is alive now (the database's clock), adding it on its first beat. */
  beat(owner: OwnerIdentity): Promise<void>;
  /** The latest beats of these instances (those never seen, or forgotten, are absent). */
  heartbeats(instances: readonly string[]): Promise<HeartbeatReading>;
  /** Forgets one instance (a process stopping cleanly: it owns nothing any more). */
  forgetHeartbeat(instance: string): Promise<void>;
  /** Forgets instances not seen for `ageMs` (by the database's clock); how many. */
  forgetSilentHeartbeats(ageMs: number): Promise<number>;

  close(): Promise<void>;
}
