import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/chain.js";
import { allow, type Decision, deny } from "../../src/policy/decision.js";
import { migratePostgres, PgDatabase } from "../../src/store/postgres/database.js";
import { PG_MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { openPostgresStore } from "../../src/store/postgres/store.js";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type {
  AdmissionRequest,
  ApiKeyRecord,
  AuditEntry,
  Store,
  UsageSnapshot,
} from "../../src/store/store.js";
import { removeTempHomes, tempHome } from "../guard/fixtures/home.js";
import { describeEachStore, freshPostgres, POSTGRES_MISSING, type StoreKind } from "./stores.js";

/** Every store a test opened, closed at the end (a PostgreSQL one holds a pool). */
const opened: Store[] = [];
afterAll(async () => {
  await Promise.all(opened.map((store) => store.close().catch(() => undefined)));
  removeTempHomes();
});

async function openStore(kind: StoreKind): Promise<Store> {
  const store = await kind.open();
  opened.push(store);
  return store;
}

const T0 = Date.parse("2026-03-02T09:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const request = (overrides: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  session: "ses_a",
  agent: "agent-1",
  tool: "issue_refund",
  customer: "cus_1",
  call_key: null,
  idempotency_key: null,
  repeat_of: null,
  amount: 1_000,
  currency: "usd",
  amount_cap: 1_000,
  revenue_at_risk_cap: null,
  cancellation: false,
  args: "{}",
  account: null,
  owner_pid: process.pid,
  owner_host: null,
  owner_instance: null,
  created_at: T0,
  ...overrides,
});

const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  at: new Date(T0).toISOString(),
  session: "ses_a",
  agent: "agent-1",
  tool: "issue_refund",
  args: '{"charge":"ch_1"}',
  decision: "allow",
  code: null,
  rule: "policy",
  reason: "allowed",
  stripe_request_id: null,
  idempotency_key: null,
  amount: 1_000,
  currency: "usd",
  amount_cap: 1_000,
  cap_currency: "usd",
  revenue_at_risk_cap: null,
  customer: "cus_1",
  outcome: "ok",
  duration_ms: 0.5,
  ...overrides,
});

const admitAll = (): Decision => allow("test", "admit");

async function admitted(store: Store, overrides: Partial<AdmissionRequest> = {}) {
  const result = await store.admit(request(overrides), admitAll);
  if (!result.admitted) throw new Error("expected an admission");
  return result.admission;
}

const usageAt = async (
  store: Store,
  at: number,
  overrides: Partial<{ session: string; customer: string | null }> = {},
) =>
  await store.usage({
    session: "ses_a",
    agent: "agent-1",
    tool: "issue_refund",
    customer: "cus_1",
    at,
    ...overrides,
  });

describe("opening (sqlite)", () => {
  it("creates SPENDGUARD_HOME owner-only, the database 0600, WAL, synchronous FULL, the latest schema", async () => {
    const home = join(tempHome(), "nested", "home");
    const store = openSqliteStore(home);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    await store.close();
    const db = new Database(store.file, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it("reopens an existing database without migrating again, keeping its data", async () => {
    const home = tempHome();
    const first = openSqliteStore(home);
    await admitted(first);
    await first.close();
    const second = openSqliteStore(home);
    expect(await second.listAdmissions({})).toHaveLength(1);
    await second.close();
  });

  it("refuses a database written by a newer spendguard", async () => {
    const home = tempHome();
    await openSqliteStore(home).close();
    const db = new Database(join(home, "spendguard.db"));
    db.pragma("user_version = 99");
    db.close();
    expect(() => openSqliteStore(home)).toThrow(/newer spendguard \(schema 99/);
  });
});

describeEachStore("the store", (kind) => {
  describe("admissions", () => {
    it("insert only when the check allows, and the check sees the usage", async () => {
      const store = await openStore(kind);
      await admitted(store, { amount_cap: 2_000 });
      let seen: UsageSnapshot | undefined;
      const refused = await store.admit(request(), (usage) => {
        seen = usage;
        return deny("cap_session", "caps.per_session", "no");
      });
      expect(refused).toMatchObject({ admitted: false, decision: { code: "cap_session" } });
      expect(seen).toMatchObject({
        sessionSpend: 2_000,
        daySpend: 2_000,
        customerDaySpend: 2_000,
        toolCallsSession: 1,
      });
      expect(await store.listAdmissions({})).toHaveLength(1);
    });

    it("count settled + reserved + unknown, never released (which still count as calls)", async () => {
      const store = await openStore(kind);
      const a = await admitted(store, { amount_cap: 100 });
      const b = await admitted(store, { amount_cap: 200 });
      const c = await admitted(store, { amount_cap: 400 });
      await admitted(store, { amount_cap: 800 });
      await store.settle(
        a.id,
        { amount: 100, amount_cap: 100, stripe_request_id: "req_1", result: null },
        entry(),
      );
      await store.release(b.id, entry({ outcome: "failed" }));
      await store.markUnknown(c.id, entry({ outcome: "unknown" }));
      expect(await usageAt(store, T0)).toMatchObject({
        sessionSpend: 1_300,
        daySpend: 1_300,
        customerDaySpend: 1_300,
        toolCallsSession: 4,
        toolCallsHour: 4,
      });
      expect((await store.getAdmission(b.id))?.state).toBe("released");
      expect((await store.getAdmission(c.id))?.state).toBe("unknown");
      expect(await store.getAdmission(a.id)).toMatchObject({
        state: "settled",
        stripe_request_id: "req_1",
      });
    });

    it("settle with what Stripe reports, keeping what was reserved", async () => {
      const store = await openStore(kind);
      const a = await admitted(store, { amount: 5_000, amount_cap: 5_000 });
      await store.settle(
        a.id,
        { amount: 3_000, amount_cap: 3_000, stripe_request_id: null, result: null },
        entry(),
      );
      expect(await store.getAdmission(a.id)).toMatchObject({
        amount: 3_000,
        amount_cap: 3_000,
        reserved_amount_cap: 5_000,
      });
      expect((await usageAt(store, T0)).sessionSpend).toBe(3_000);
    });

    it("rolling 24 h: settled spend leaves the window exactly 24 h after it was admitted", async () => {
      const store = await openStore(kind);
      const a = await admitted(store, { amount_cap: 700 });
      await store.settle(
        a.id,
        { amount: 700, amount_cap: 700, stripe_request_id: null, result: null },
        entry(),
      );
      expect(await usageAt(store, T0 + DAY - 1)).toMatchObject({
        daySpend: 700,
        customerDaySpend: 700,
      });
      expect(await usageAt(store, T0 + DAY)).toMatchObject({
        daySpend: 0,
        customerDaySpend: 0,
        sessionSpend: 700,
      });
    });

    it("reserved and unknown spend keeps counting past 24 h, until it is resolved", async () => {
      const store = await openStore(kind);
      const reserved = await admitted(store, { amount_cap: 100 });
      const unknown = await admitted(store, { amount_cap: 200 });
      await store.markUnknown(unknown.id, entry({ outcome: "unknown" }));
      expect(await usageAt(store, T0 + 3 * DAY)).toMatchObject({
        daySpend: 300,
        customerDaySpend: 300,
      });
      await store.settle(
        unknown.id,
        { amount: 200, amount_cap: 200, stripe_request_id: null, result: null },
        entry(),
      );
      await store.release(reserved.id, entry());
      expect(await usageAt(store, T0 + 3 * DAY)).toMatchObject({ daySpend: 0 });
    });

    it("per-customer spend is per agent and customer; session spend per session", async () => {
      const store = await openStore(kind);
      await admitted(store, { amount_cap: 100 });
      await admitted(store, { amount_cap: 200, customer: "cus_2" });
      await admitted(store, { amount_cap: 400, session: "ses_b" });
      await admitted(store, { amount_cap: 800, agent: "agent-2", session: "ses_c" });
      expect(await usageAt(store, T0)).toMatchObject({
        sessionSpend: 300,
        daySpend: 700,
        customerDaySpend: 500,
      });
      expect((await usageAt(store, T0, { customer: null })).customerDaySpend).toBe(0);
    });

    it("calls per hour: a call leaves the hour window exactly an hour later", async () => {
      const store = await openStore(kind);
      await admitted(store, { amount_cap: 0, tool: "lookup_charge" });
      const at = async (t: number) =>
        await store.usage({
          session: "ses_z",
          agent: "agent-1",
          tool: "lookup_charge",
          customer: null,
          at: t,
        });
      expect((await at(T0 + HOUR - 1)).toolCallsHour).toBe(1);
      expect((await at(T0 + HOUR)).toolCallsHour).toBe(0);
      expect((await at(T0 + HOUR)).toolCallsSession).toBe(0);
    });

    it("cancellations count by number, released ones not", async () => {
      const store = await openStore(kind);
      await admitted(store, { amount_cap: 0, cancellation: true, revenue_at_risk_cap: 4_900 });
      const failed = await admitted(store, { amount_cap: 0, cancellation: true });
      await store.release(failed.id, entry());
      expect(await usageAt(store, T0)).toMatchObject({
        cancellationsSession: 1,
        cancellationsDay: 1,
      });
      expect(await usageAt(store, T0 + DAY)).toMatchObject({ cancellationsDay: 1 }); // still reserved
    });

    it("transitions apply once: a resolved admission is not resolved again", async () => {
      const store = await openStore(kind);
      const a = await admitted(store);
      expect((await store.release(a.id, entry())).applied).toBe(true);
      const again = await store.settle(
        a.id,
        { amount: 1, amount_cap: 1, stripe_request_id: null, result: null },
        entry(),
        "if-applied",
      );
      expect(again).toEqual({ applied: false, record: null });
      expect((await store.markUnknown(a.id, entry())).applied).toBe(false);
      expect((await store.getAdmission(a.id))?.state).toBe("released");
    });

    it("find a call's standing admission, ignoring released ones, and count its attempts", async () => {
      const store = await openStore(kind);
      expect(await store.findCall("sg_k")).toEqual({ standing: undefined, attempts: 0 });
      const first = await admitted(store, { call_key: "sg_k", idempotency_key: "sg_k" });
      await store.release(first.id, entry());
      expect(await store.findCall("sg_k")).toEqual({ standing: undefined, attempts: 1 });
      const second = await admitted(store, {
        call_key: "sg_k",
        idempotency_key: "sg_k_1",
        created_at: T0 + 1,
      });
      const settled = {
        amount: 1_000,
        amount_cap: 1_000,
        stripe_request_id: null,
        result: '{"x":1}',
      };
      await store.settle(second.id, settled, entry());
      const found = await store.findCall("sg_k");
      expect(found.attempts).toBe(2);
      expect([found.standing?.id, found.standing?.result]).toEqual([second.id, '{"x":1}']);
    });

    it("list by state, session and agent; calls per tool in a session", async () => {
      const store = await openStore(kind);
      const a = await admitted(store, { amount_cap: 100 });
      await admitted(store, { amount_cap: 200, tool: "pay_invoice" });
      const c = await admitted(store, { amount_cap: 400, agent: "agent-2" });
      await store.settle(
        a.id,
        { amount: 100, amount_cap: 100, stripe_request_id: null, result: null },
        entry(),
      );
      await store.markUnknown(c.id, entry());
      expect(
        (await store.listAdmissions({ states: ["reserved", "unknown"] })).map((x) => x.amount_cap),
      ).toEqual([200, 400]);
      expect(await store.listAdmissions({ agent: "agent-2" })).toHaveLength(1);
      expect(await store.callsInSession("ses_a")).toEqual({ issue_refund: 2, pay_invoice: 1 });
    });
  });

  describe("sessions", () => {
    it("leave `active` once and never come back", async () => {
      const store = await openStore(kind);
      await store.createSession(activeSession("ses_1", "a"));
      expect(
        await store.changeSessionState("ses_1", {
          state: "ended",
          at: T0,
          by: "agent",
          reason: "done",
        }),
      ).toBe(true);
      expect(
        await store.changeSessionState("ses_1", {
          state: "killed",
          at: T0,
          by: "cli",
          reason: "x",
        }),
      ).toBe(false);
      expect(await store.getSession("ses_1")).toMatchObject({
        state: "ended",
        killed_by: "agent",
        kill_reason: "done",
      });
    });

    it("kill every active session, or one agent's", async () => {
      const store = await openStore(kind);
      await store.createSession(activeSession("ses_1", "a"));
      await store.createSession(activeSession("ses_2", "a"));
      await store.createSession(activeSession("ses_3", "b"));
      const kill = { state: "killed" as const, at: T0, by: "cli", reason: "stop" };
      expect((await store.killActiveSessions(kill, "a")).sort()).toEqual(["ses_1", "ses_2"]);
      expect(await store.killActiveSessions(kill)).toEqual(["ses_3"]);
      expect(await store.listSessions({ state: "killed" })).toHaveLength(3);
      expect((await store.listSessions({ agent: "b" })).map((s) => s.id)).toEqual(["ses_3"]);
    });
  });

  describe("audit", () => {
    it("appends a hash chain with a head, and refuses edits and deletions", async () => {
      const store = await openStore(kind);
      const first = await store.appendAudit(entry());
      const second = await store.appendAudit(entry({ tool: "lookup_charge" }));
      expect(first).toMatchObject({ seq: 1, prev_hash: "0".repeat(64) });
      expect(second).toMatchObject({ seq: 2, prev_hash: first.hash });
      expect(await store.auditHead()).toEqual({ seq: 2, hash: second.hash });
      await expect(kind.raw(store, "UPDATE audit SET amount = 1")).rejects.toThrow(/append-only/);
      await expect(kind.raw(store, "DELETE FROM audit")).rejects.toThrow(/append-only/);
    });

    it("is queried by session, agent, tool, decision, time, position and count", async () => {
      const store = await openStore(kind);
      await store.appendAudit(entry());
      await store.appendAudit(entry({ session: "ses_b", decision: "deny", outcome: "denied" }));
      await store.appendAudit(
        entry({ tool: "lookup_charge", at: new Date(T0 + HOUR).toISOString() }),
      );
      await store.appendAudit(entry({ agent: "agent-2" }));
      expect((await store.queryAudit({})).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      expect((await store.queryAudit({ session: "ses_b" })).map((r) => r.seq)).toEqual([2]);
      expect((await store.queryAudit({ decision: "deny" })).map((r) => r.seq)).toEqual([2]);
      expect((await store.queryAudit({ tool: "lookup_charge" })).map((r) => r.seq)).toEqual([3]);
      expect((await store.queryAudit({ agent: "agent-2" })).map((r) => r.seq)).toEqual([4]);
      expect(
        (await store.queryAudit({ since: new Date(T0 + 1).toISOString() })).map((r) => r.seq),
      ).toEqual([3]);
      expect((await store.queryAudit({ limit: 2 })).map((r) => r.seq)).toEqual([3, 4]);
      expect((await store.queryAudit({ afterSeq: 2, agent: "agent-1" })).map((r) => r.seq)).toEqual(
        [3],
      );
      const seqs: number[] = [];
      for await (const row of store.iterateAudit()) seqs.push(row.seq);
      expect(seqs).toEqual([1, 2, 3, 4]);
    });
  });
});

describeEachStore("keys", (kind) => {
  it("are found by hash and id, listed oldest first, revoked once; sessions name their key", async () => {
    const store = await openStore(kind);
    const key = (id: string, created_at: number): ApiKeyRecord => ({
      id,
      kind: "agent",
      name: "bot",
      policy_file: "/p.yaml",
      credential: "key",
      key_hash: `${id}-hash`,
      oauth_client: null,
      created_at,
      expires_at: null,
      revoked_at: null,
      revoked_reason: null,
    });
    await store.createApiKey(key("key_b", T0 + 1));
    await store.createApiKey(key("key_a", T0));
    expect(await store.findApiKeyByHash("key_b-hash")).toEqual(key("key_b", T0 + 1));
    expect(await store.getApiKey("key_none")).toBeUndefined();
    expect((await store.listApiKeys()).map((k) => k.id)).toEqual(["key_a", "key_b"]);
    expect(await store.revokeApiKey("key_a", T0 + 5, "left")).toBe(true);
    expect(await store.revokeApiKey("key_a", T0 + 6)).toBe(false);
    expect(await store.getApiKey("key_a")).toMatchObject({
      revoked_at: T0 + 5,
      revoked_reason: "left",
    });
    await store.recordSessionKey("ses_1", "key_b");
    expect(await store.sessionKey("ses_1")).toBe("key_b");
    expect(await store.sessionKey("ses_2")).toBeUndefined();
  });
});

describeEachStore("numbers", (kind) => {
  it("come back as numbers, at their full size, and the chain verifies", async () => {
    const store = await openStore(kind);
    const big = 2 ** 52;
    const result = await store.admit(
      request({ amount: big, amount_cap: big, created_at: big }),
      () => allow("test", "admit"),
    );
    if (!result.admitted) throw new Error("expected an admission");
    expect(await store.getAdmission(result.admission.id)).toMatchObject({
      amount: big,
      amount_cap: big,
      created_at: big,
      cancellation: false,
    });
    await store.appendAudit(entry({ duration_ms: 0.1 + 0.2, amount: big }));
    expect((await store.queryAudit({}))[0]).toMatchObject({ duration_ms: 0.1 + 0.2, amount: big });
    expect(await verifyAudit(store)).toEqual({ ok: true, rows: 1 });
  });
});

describe.skipIf(POSTGRES_MISSING)("migrations (postgres)", () => {
  it("migrate brings an empty database to the current schema once; an old or newer one is refused", async () => {
    const url = await freshPostgres();
    const db = new PgDatabase(url);
    try {
      expect(await migratePostgres(db)).toEqual({
        from: PG_MIGRATIONS.length,
        to: PG_MIGRATIONS.length,
      });
      await db.query("UPDATE schema_version SET version = 0");
      await expect(openPostgresStore(url)).rejects.toThrow(/run `spendguard migrate`/);
      await db.query(`UPDATE schema_version SET version = ${PG_MIGRATIONS.length + 1}`);
      await expect(openPostgresStore(url)).rejects.toThrow(/newer spendguard/);
      await expect(migratePostgres(db)).rejects.toThrow(/newer spendguard/);
    } finally {
      await db.close();
    }
  });

  it("an unreachable database is store_unavailable, for opening and for every statement", async () => {
    await expect(openPostgresStore("postgres://postgres@127.0.0.1:1/none")).rejects.toMatchObject({
      code: "store_unavailable",
    });
  });
});

const activeSession = (id: string, agent: string) => ({
  id,
  agent,
  policy_name: "p",
  policy_hash: "h",
  started_at: T0,
  expires_at: null,
  state: "active" as const,
  state_changed_at: null,
  killed_by: null,
  kill_reason: null,
});

describeEachStore("holds", (kind) => {
  it("an agent is held once: its active sessions are killed with the audit row, and released once", async () => {
    const store = await openStore(kind);
    await store.createSession(activeSession("ses_1", "agent-1"));
    await store.createSession(activeSession("ses_2", "agent-2"));
    const hold = { agent: "agent-1", at: T0 + 1, by: "auto-pause", reason: "too fast" };
    const audit = (killed: readonly string[]) =>
      entry({ tool: "pause_agent", reason: killed.join(" ") });
    const first = await store.holdAgent(hold, audit);
    expect(first).toMatchObject({ held: true, killed: ["ses_1"], record: { reason: "ses_1" } });
    expect(await store.holdAgent(hold, audit)).toEqual({ held: false, killed: [], record: null });
    expect(await store.getSession("ses_1")).toMatchObject({
      state: "killed",
      killed_by: "auto-pause",
    });
    expect(await store.getSession("ses_2")).toMatchObject({ state: "active" });
    expect((await store.sessionsKilledSince(T0, 10)).map((s) => s.id)).toEqual(["ses_1"]);
    expect(await store.agentHold("agent-1")).toMatchObject({
      held_by: "auto-pause",
      released_at: null,
    });
    expect(await store.listAgentHolds({ open: true })).toHaveLength(1);
    const release = { agent: "agent-1", at: T0 + 2, by: "cli", reason: null };
    expect(await store.releaseAgent(release, null)).toEqual({ released: true, record: null });
    expect((await store.releaseAgent(release, null)).released).toBe(false);
    expect(await store.agentHold("agent-1")).toMatchObject({
      released_at: T0 + 2,
      released_by: "cli",
    });
    expect(await store.listAgentHolds({ open: true })).toHaveLength(0);
    expect(await store.listAgentHolds({})).toHaveLength(1);
  });

  it("agent activity counts money-moving admissions in a window, of some tools", async () => {
    const store = await openStore(kind);
    await admitted(store, { created_at: T0 + 10 });
    await admitted(store, { created_at: T0 + 20, tool: "capture_payment" });
    await admitted(store, { created_at: T0 + 30, amount_cap: 0 });
    expect(await store.agentActivity("agent-1", null, T0, T0 + 30)).toEqual({
      money_calls: 2,
      amount_cap: 2_000,
    });
    expect(await store.agentActivity("agent-1", ["issue_refund"], T0, T0 + 30)).toEqual({
      money_calls: 1,
      amount_cap: 1_000,
    });
    expect(await store.agentActivity("agent-1", null, T0 + 10, T0 + 30)).toMatchObject({
      money_calls: 1,
    });
  });
});

describeEachStore("alerts outbox", (kind) => {
  const delivery = (alert: string, event_at: number) => ({
    alert,
    sink: "ops",
    type: "cap_denial",
    rule: "r1",
    agent: "agent-1",
    cooldown_key: "r1|ops|agent-1",
    event_at,
    summary: "s",
    body: "{}",
    created_at: event_at,
  });

  it("queues an alert once per sink, holds a cool-down, leases, records attempts, keeps a cursor", async () => {
    const store = await openStore(kind);
    const queued = await store.enqueueAlert(delivery("alr_1", T0), 60_000);
    expect(queued).toMatchObject({ alert: "alr_1", state: "pending", attempts: 0 });
    expect(await store.enqueueAlert(delivery("alr_1", T0), 0)).toBeUndefined();
    expect(await store.enqueueAlert(delivery("alr_2", T0 + 1_000), 60_000)).toBeUndefined();
    expect(await store.enqueueAlert(delivery("alr_3", T0 + 120_000), 60_000)).toBeDefined();
    const claim = { sinks: ["ops"], now: T0 + 200_000, leaseMs: 10_000, limit: 10 };
    const claimed = await store.claimAlertDeliveries(claim);
    expect(claimed.map((d) => d.alert)).toEqual(["alr_1", "alr_3"]);
    // Leased: another process claiming now gets nothing.
    expect(await store.claimAlertDeliveries(claim)).toEqual([]);
    const id = claimed[0]?.id ?? "";
    await store.recordAlertAttempt(
      { delivery: id, at: T0 + 200_001, status: 200, error: null, duration_ms: 1.5 },
      { state: "delivered", next_attempt_at: T0 + 200_001 },
    );
    expect(await store.listAlertAttempts(id)).toEqual([
      { delivery: id, at: T0 + 200_001, status: 200, error: null, duration_ms: 1.5 },
    ]);
    expect((await store.listAlertDeliveries({ state: "delivered" })).map((d) => d.id)).toEqual([
      id,
    ]);
    expect(await store.alertDeliveryCounts()).toEqual([
      { sink: "ops", state: "delivered", count: 1 },
      { sink: "ops", state: "pending", count: 1 },
    ]);
    expect(await store.alertCursor()).toBeUndefined();
    await store.advanceAlertCursor({ audit_seq: 5, killed_at: T0 });
    await store.advanceAlertCursor({ audit_seq: 3, killed_at: T0 + 1 });
    expect(await store.alertCursor()).toEqual({ audit_seq: 5, killed_at: T0 + 1 });
  });
});

describeEachStore("OAuth", (kind) => {
  const client = {
    id: "cli_1",
    registration: "dynamic" as const,
    name: "Client",
    redirect_uris: '["http://127.0.0.1/cb"]',
    grant_types: '["authorization_code"]',
    auth_method: "none" as const,
    secret_hash: null,
    client_uri: null,
    registered_by: "127.0.0.1",
    created_at: T0,
    fresh_until: null,
  };
  const token = (hash: string, kind: "access" | "refresh") => ({
    token_hash: hash,
    kind,
    grant_id: "key_g",
    client_id: "cli_1",
    resource: "http://127.0.0.1/mcp",
    scope: "mcp",
    created_at: T0,
    expires_at: T0 + HOUR,
    rotated_at: null,
    revoked_at: null,
  });

  it("clients, identities, codes redeemed once, refresh tokens rotated once, expiry", async () => {
    const store = await openStore(kind);
    const identity: ApiKeyRecord = {
      id: "key_g",
      kind: "agent",
      name: "bot",
      policy_file: "/p.yaml",
      credential: "oauth_grant",
      key_hash: null,
      oauth_client: "cli_1",
      created_at: T0,
      expires_at: null,
      revoked_at: null,
      revoked_reason: null,
    };
    await store.createOAuthIdentity(identity, client);
    expect(await store.getOAuthClient("cli_1")).toEqual(client);
    expect(await store.getApiKey("key_g")).toEqual(identity);
    await store.saveOAuthClient({ ...client, name: "Renamed" });
    expect((await store.listOAuthClients()).map((c) => c.name)).toEqual(["Renamed"]);
    expect(await store.countOAuthClients({ registration: "dynamic", since: T0 })).toBe(1);
    expect(
      await store.countOAuthClients({ registration: "dynamic", since: T0, registeredBy: "x" }),
    ).toBe(0);

    const code = {
      code_hash: "c1",
      client_id: "cli_1",
      grant_id: "key_g",
      redirect_uri: "http://127.0.0.1/cb",
      code_challenge: "ch",
      resource: "http://127.0.0.1/mcp",
      scope: "mcp",
      created_at: T0,
      expires_at: T0 + 60_000,
      used_at: null,
    };
    await store.createOAuthCode(code);
    expect(await store.redeemOAuthCode("c1", T0 + 1)).toEqual({ code, firstUse: true });
    expect(await store.redeemOAuthCode("c1", T0 + 2)).toMatchObject({ firstUse: false });
    expect(await store.redeemOAuthCode("none", T0 + 2)).toBeUndefined();

    await store.createOAuthTokens([token("a1", "access"), token("r1", "refresh")]);
    expect(await store.findOAuthToken("a1")).toEqual(token("a1", "access"));
    expect(await store.rotateRefreshToken("r1", T0 + 5, [token("r2", "refresh")])).toBe(true);
    expect(await store.rotateRefreshToken("r1", T0 + 6, [token("r3", "refresh")])).toBe(false);
    expect(await store.findOAuthToken("r3")).toBeUndefined();
    expect(await store.revokeOAuthToken("a1", T0 + 7)).toBe(true);
    expect(await store.revokeOAuthToken("a1", T0 + 8)).toBe(false);
    await store.deleteExpiredOAuth(T0 + HOUR + 1);
    expect(await store.findOAuthToken("r2")).toBeUndefined();
    expect(await store.redeemOAuthCode("c1", T0 + 3)).toBeUndefined();
  });
});

describeEachStore("totals", (kind) => {
  it("audit rows and settled money are counted as they are written", async () => {
    const store = await openStore(kind);
    await store.appendAudit(entry());
    await store.appendAudit(entry());
    await store.appendAudit(entry({ decision: "deny", rule: "caps", code: "cap_day" }));
    const admission = await admitted(store);
    await store.settle(
      admission.id,
      { amount: 900, amount_cap: 900, stripe_request_id: null, result: null },
      entry({ cap_currency: "usd" }),
    );
    expect(await store.auditTotals()).toEqual([
      { tool: "issue_refund", decision: "allow", rule: "policy", code: null, count: 3 },
      { tool: "issue_refund", decision: "deny", rule: "caps", code: "cap_day", count: 1 },
    ]);
    expect(await store.moneyTotals()).toEqual([
      { agent: "agent-1", currency: "usd", amount: 900, cap_currency: "usd", amount_cap: 900 },
    ]);
  });
});

describeEachStore("owners", (kind) => {
  it("an admission keeps its owner's host and instance; rows without them read null", async () => {
    const store = await openStore(kind);
    const owned = await admitted(store, { owner_host: "host-a", owner_instance: "a1b2c3" });
    expect(await store.getAdmission(owned.id)).toMatchObject({
      owner_pid: process.pid,
      owner_host: "host-a",
      owner_instance: "a1b2c3",
    });
    const older = await admitted(store);
    expect(await store.getAdmission(older.id)).toMatchObject({
      owner_host: null,
      owner_instance: null,
    });
  });

  it("heartbeats: the first beat adds an owner, later ones move seen_at on, by the database's clock", async () => {
    const store = await openStore(kind);
    const a = { instance: "inst-a", host: "host-a", pid: 1 };
    const b = { instance: "inst-b", host: "host-b", pid: 1 };
    const before = Date.now();
    await store.beat(a);
    await store.beat(b);
    const first = await store.heartbeats(["inst-a", "inst-b", "inst-never"]);
    expect(first.beats.map((beat) => beat.instance).sort()).toEqual(["inst-a", "inst-b"]);
    const beatA = first.beats.find((beat) => beat.instance === "inst-a");
    expect(beatA).toMatchObject({ host: "host-a", pid: 1 });
    if (!beatA) throw new Error("unreachable");
    expect(beatA.started_at).toBe(beatA.seen_at);
    // The database's clock, here the test's own machine's (one host, one clock).
    expect(beatA.seen_at).toBeGreaterThanOrEqual(before - 1_000);
    expect(first.now).toBeGreaterThanOrEqual(beatA.seen_at);

    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.beat(a);
    const second = await store.heartbeats(["inst-a"]);
    expect(second.beats).toHaveLength(1);
    expect(second.beats[0]?.started_at).toBe(beatA.started_at);
    expect(second.beats[0]?.seen_at).toBeGreaterThan(beatA.seen_at);
    expect((await store.heartbeats([])).beats).toEqual([]);
  });

  it("heartbeats are forgotten one by one (a clean stop) or when silent too long", async () => {
    const store = await openStore(kind);
    for (const instance of ["gone", "silent", "alive"]) {
      await store.beat({ instance, host: "h", pid: 7 });
    }
    await store.forgetHeartbeat("gone");
    await kind.raw(
      store,
      "UPDATE owner_heartbeats SET seen_at = seen_at - 90000000 WHERE instance = 'silent'",
    );
    expect(await store.forgetSilentHeartbeats(86_400_000)).toBe(1);
    const left = await store.heartbeats(["gone", "silent", "alive"]);
    expect(left.beats.map((beat) => beat.instance)).toEqual(["alive"]);
  });
});
