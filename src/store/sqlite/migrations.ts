/**
 * The SQLite schema, one entry per version (`PRAGMA user_version`). Entries are only ever
 * appended: a released database is upgraded by running the entries it has not seen.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1 */ `
  CREATE TABLE admissions (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    customer TEXT,
    idempotency_key TEXT,
    amount INTEGER NOT NULL,
    currency TEXT,
    amount_cap INTEGER NOT NULL,
    reserved_amount_cap INTEGER NOT NULL,
    revenue_at_risk_cap INTEGER,
    cancellation INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released', 'unknown')),
    owner_pid INTEGER NOT NULL,
    args TEXT NOT NULL,
    account TEXT,
    created_at INTEGER NOT NULL,
    resolved_at INTEGER,
    stripe_request_id TEXT
  ) STRICT;
  -- Few indexes: each one is written on every call. Replays look admissions up by key;
  -- the first minute of a rolling window, which per-minute totals cannot split, is
  -- summed from this covering index.
  CREATE INDEX admissions_key ON admissions (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  CREATE INDEX admissions_agent_time
    ON admissions (agent, created_at, tool, customer, state, amount_cap, cancellation);

  -- Usage as running totals, kept in the transactions that change admissions, so checking
  -- a cap reads a few rows however long the history. Money is in cap-currency minor units.
  -- Per session: money counted (settled + reserved + unknown) and cancellations.
  CREATE TABLE session_usage (
    session TEXT PRIMARY KEY,
    spend INTEGER NOT NULL,
    cancellations INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE session_tool_calls (
    session TEXT NOT NULL,
    tool TEXT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (session, tool)
  ) STRICT, WITHOUT ROWID;
  -- Reserved and unknown money counts whatever its age, so it is kept apart from windows.
  CREATE TABLE agent_open (
    agent TEXT PRIMARY KEY,
    spend INTEGER NOT NULL,
    cancellations INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE customer_open (
    agent TEXT NOT NULL,
    customer TEXT NOT NULL,
    spend INTEGER NOT NULL,
    PRIMARY KEY (agent, customer)
  ) STRICT, WITHOUT ROWID;
  -- Settled money and cancellations, and all calls, per minute of the admission's time.
  CREATE TABLE agent_minutes (
    agent TEXT NOT NULL,
    minute INTEGER NOT NULL,
    spend INTEGER NOT NULL,
    cancellations INTEGER NOT NULL,
    PRIMARY KEY (agent, minute)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE customer_minutes (
    agent TEXT NOT NULL,
    customer TEXT NOT NULL,
    minute INTEGER NOT NULL,
    spend INTEGER NOT NULL,
    PRIMARY KEY (agent, customer, minute)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE tool_minutes (
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    minute INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (agent, tool, minute)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    expires_at INTEGER,
    state TEXT NOT NULL CHECK (state IN ('active', 'killed', 'expired', 'ended')),
    state_changed_at INTEGER,
    killed_by TEXT,
    kill_reason TEXT
  ) STRICT;
  CREATE INDEX sessions_agent ON sessions (agent, state);
  CREATE INDEX sessions_state ON sessions (state, started_at);

  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    decision TEXT NOT NULL,
    code TEXT,
    rule TEXT,
    reason TEXT,
    stripe_request_id TEXT,
    idempotency_key TEXT,
    amount INTEGER,
    currency TEXT,
    amount_cap INTEGER,
    cap_currency TEXT,
    revenue_at_risk_cap INTEGER,
    customer TEXT,
    outcome TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX audit_session ON audit (session);
  CREATE INDEX audit_at ON audit (at);
  -- Append-only by construction; the hash chain catches whoever drops these triggers.
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
  -- The last row's seq and hash, written with it: a cut-off tail leaves a dangling head.
  CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  `,
  /* 2 */ `
  -- Human approvals (policy require_approval_over / require_approval_for). A request is
  -- bound to one call: session, tool, account, arguments and what Stripe resolved them to
  -- (customer, amount), hashed into binding. A granted one is used by exactly one
  -- admission, in the transaction that admits it.
  CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    binding TEXT NOT NULL,
    session TEXT NOT NULL,
    agent TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    account TEXT,
    customer TEXT,
    amount INTEGER,
    currency TEXT,
    amount_cap INTEGER,
    cap_currency TEXT NOT NULL,
    rule TEXT NOT NULL,
    summary TEXT NOT NULL,
    ttl_ms INTEGER NOT NULL,
    state TEXT NOT NULL
      CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'used')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    decision_reason TEXT,
    used_at INTEGER,
    admission TEXT
  ) STRICT;
  CREATE INDEX approvals_binding ON approvals (binding, created_at);
  CREATE INDEX approvals_created ON approvals (created_at);
  `,
  /* 3 */ `
  -- Keys that open HTTP sessions. Only a SHA-256 of each key is kept, never the key. An
  -- agent key names the agent (its caps are counted per agent) and its policy file.
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('agent', 'operator')),
    name TEXT NOT NULL,
    policy_file TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    CHECK ((kind = 'agent') = (policy_file IS NOT NULL))
  ) STRICT;
  -- Which key opened which session: who was behind a session, long after it ended.
  CREATE TABLE session_keys (
    session TEXT PRIMARY KEY,
    key_id TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX session_keys_key ON session_keys (key_id);
  `,
  /* 4 */ `
  -- Repeats and Stripe's 24-hour key life. call_key names the call (session, tool, account,
  -- arguments) whatever idempotency key an attempt sent: an attempt after one that surely
  -- applied nothing sends a fresh key. result is what the guard recorded of a settled
  -- write, so a repeat is answered from it instead of being sent again. repeat_of marks an
  -- admission that only counts a repeat (a call, moving nothing).
  ALTER TABLE admissions ADD COLUMN call_key TEXT;
  ALTER TABLE admissions ADD COLUMN repeat_of TEXT;
  ALTER TABLE admissions ADD COLUMN result TEXT;
  UPDATE admissions SET call_key = idempotency_key WHERE idempotency_key IS NOT NULL;
  DROP INDEX admissions_key;
  CREATE INDEX admissions_call ON admissions (call_key) WHERE call_key IS NOT NULL;
  `,
  /* 5 */ `
  -- Who may say yes to a request (policy approval_via): the MCP client's user in-band,
  -- the operator out of band, or either. Requests made before it was known: either.
  ALTER TABLE approvals ADD COLUMN approval_via TEXT NOT NULL DEFAULT 'either'
    CHECK (approval_via IN ('operator', 'client', 'either'));
  `,
  /* 6 */ `
  -- OAuth: spendguard is the authorization server of its own MCP endpoint. An identity
  -- (api_keys) is now proven by a static key or by OAuth: a grant an operator consented
  -- to, or a client made for client_credentials. The table is rebuilt to say which (SQLite
  -- cannot change a column's constraints in place); every existing row is a key.
  CREATE TABLE api_keys_v4 (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('agent', 'operator')),
    name TEXT NOT NULL,
    policy_file TEXT,
    credential TEXT NOT NULL CHECK (credential IN ('key', 'oauth_grant', 'oauth_client')),
    key_hash TEXT UNIQUE,
    oauth_client TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    revoked_reason TEXT,
    CHECK ((kind = 'agent') = (policy_file IS NOT NULL)),
    CHECK ((credential = 'key') = (key_hash IS NOT NULL)),
    CHECK ((credential = 'key') = (oauth_client IS NULL)),
    CHECK (credential = 'key' OR kind = 'agent')
  ) STRICT;
  INSERT INTO api_keys_v4 (id, kind, name, policy_file, credential, key_hash, created_at,
      expires_at, revoked_at)
    SELECT id, kind, name, policy_file, 'key', key_hash, created_at, expires_at, revoked_at
    FROM api_keys;
  DROP TABLE api_keys;
  ALTER TABLE api_keys_v4 RENAME TO api_keys;

  -- Clients: registered (RFC 7591), known by their metadata document's URL, or made by the
  -- operator. Only a SHA-256 of a client secret is kept.
  CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY,
    registration TEXT NOT NULL
      CHECK (registration IN ('dynamic', 'metadata_document', 'operator')),
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    auth_method TEXT NOT NULL
      CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    secret_hash TEXT,
    client_uri TEXT,
    registered_by TEXT,
    created_at INTEGER NOT NULL,
    fresh_until INTEGER,
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
  ) STRICT;
  CREATE INDEX oauth_clients_created ON oauth_clients (registration, created_at);

  -- Authorization codes and tokens, by their SHA-256 only: what a leaked database shows
  -- cannot be presented.
  CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE oauth_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
  `,
  /* 7 */ `
  -- Agents paused until an operator resumes them (a velocity rule's pause). At most one
  -- open hold per agent; released ones are kept as history.
  CREATE TABLE agent_holds (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    held_at INTEGER NOT NULL,
    held_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    released_at INTEGER,
    released_by TEXT,
    release_reason TEXT
  ) STRICT;
  CREATE UNIQUE INDEX agent_holds_open ON agent_holds (agent) WHERE released_at IS NULL;
  CREATE INDEX agent_holds_agent ON agent_holds (agent, id);

  -- The alerts outbox: one row per alert and sink, sent at least once. A row is leased
  -- by the process sending it, so a crash mid-send only delays it.
  CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY,
    alert TEXT NOT NULL,
    sink TEXT NOT NULL,
    type TEXT NOT NULL,
    rule TEXT NOT NULL,
    agent TEXT,
    cooldown_key TEXT NOT NULL,
    event_at INTEGER NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_status INTEGER,
    last_error TEXT,
    delivered_at INTEGER,
    UNIQUE (alert, sink)
  ) STRICT;
  CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
  CREATE INDEX alert_deliveries_cooldown ON alert_deliveries (cooldown_key, event_at);
  CREATE TABLE alert_attempts (
    delivery INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL
  ) STRICT;
  CREATE INDEX alert_attempts_delivery ON alert_attempts (delivery, at);
  -- How far alert evaluation has got (every process starts from here).
  CREATE TABLE alert_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    audit_seq INTEGER NOT NULL,
    killed_at INTEGER NOT NULL
  ) STRICT;
  -- Kills are found by when the session's state changed.
  CREATE INDEX sessions_changed ON sessions (state, state_changed_at);

  -- Running totals for /metrics, kept in the transactions that write what they count, so
  -- a scrape reads a few rows however long the history. Empty rule or code means none.
  CREATE TABLE audit_totals (
    tool TEXT NOT NULL,
    decision TEXT NOT NULL,
    rule TEXT NOT NULL,
    code TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (tool, decision, rule, code)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO audit_totals (tool, decision, rule, code, count)
    SELECT tool, decision, COALESCE(rule, ''), COALESCE(code, ''), COUNT(*)
    FROM audit GROUP BY 1, 2, 3, 4;
  -- Money Stripe confirmed (settled admissions), per agent and currency.
  CREATE TABLE money_totals (
    agent TEXT NOT NULL,
    currency TEXT NOT NULL,
    cap_currency TEXT NOT NULL,
    amount INTEGER NOT NULL,
    amount_cap INTEGER NOT NULL,
    PRIMARY KEY (agent, currency, cap_currency)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO money_totals (agent, currency, cap_currency, amount, amount_cap)
    SELECT agent, currency, COALESCE((SELECT a.cap_currency FROM audit a
        WHERE a.session = admissions.session AND a.cap_currency IS NOT NULL LIMIT 1), ''),
      SUM(amount), SUM(amount_cap)
    FROM admissions WHERE state = 'settled' AND currency IS NOT NULL
    GROUP BY 1, 2, 3;
  `,
  /* 8 */ `
  -- A write's owner beyond its pid: its host and process instance, so another host can
  -- tell a dead owner from a slow one by the owner's heartbeat. Older rows have neither.
  ALTER TABLE admissions ADD COLUMN owner_host TEXT;
  ALTER TABLE admissions ADD COLUMN owner_instance TEXT;
  -- Processes that can own writes, each refreshing its row every few seconds.
  CREATE TABLE owner_heartbeats (
    instance TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];
