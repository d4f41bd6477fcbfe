import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { allow, type Decision, deny } from "../../src/policy/decision.js";
import { MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";
import type { AdmissionRequest, AuditEntry, UsageSnapshot } from "../../src/store/store.js";
import { removeTempHomes, tempHome } from "../guard/fixtures/home.js";

afterAll(removeTempHomes);

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

async function admitted(store: SqliteStore, overrides: Partial<AdmissionRequest> = {}) {
  const result = await store.admit(request(overrides), admitAll);
  if (!result.admitted) throw new Error("expected an admission");
  return result.admission;
}

const usageAt = async (
  store: SqliteStore,
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

describe("opening", () => {
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

describe("admissions", () => {
  it("insert only when the check allows, and the check sees the usage", async () => {
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
    const store = openSqliteStore(tempHome());
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
  const session = (id: string, agent: string) => ({
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

  it("leave `active` once and never come back", async () => {
    const store = openSqliteStore(tempHome());
    await store.createSession(session("ses_1", "a"));
    expect(
      await store.changeSessionState("ses_1", {
        state: "ended",
        at: T0,
        by: "agent",
        reason: "done",
      }),
    ).toBe(true);
    expect(
      await store.changeSessionState("ses_1", { state: "killed", at: T0, by: "cli", reason: "x" }),
    ).toBe(false);
    expect(await store.getSession("ses_1")).toMatchObject({
      state: "ended",
      killed_by: "agent",
      kill_reason: "done",
    });
  });

  it("kill every active session, or one agent's", async () => {
    const store = openSqliteStore(tempHome());
    await store.createSession(session("ses_1", "a"));
    await store.createSession(session("ses_2", "a"));
    await store.createSession(session("ses_3", "b"));
    const kill = { state: "killed" as const, at: T0, by: "cli", reason: "stop" };
    expect((await store.killActiveSessions(kill, "a")).sort()).toEqual(["ses_1", "ses_2"]);
    expect(await store.killActiveSessions(kill)).toEqual(["ses_3"]);
    expect(await store.listSessions({ state: "killed" })).toHaveLength(3);
    expect((await store.listSessions({ agent: "b" })).map((s) => s.id)).toEqual(["ses_3"]);
  });
});

describe("audit", () => {
  it("appends a hash chain with a head, and refuses edits and deletions", async () => {
    const store = openSqliteStore(tempHome());
    const first = await store.appendAudit(entry());
    const second = await store.appendAudit(entry({ tool: "lookup_charge" }));
    expect(first).toMatchObject({ seq: 1, prev_hash: "0".repeat(64) });
    expect(second).toMatchObject({ seq: 2, prev_hash: first.hash });
    expect(await store.auditHead()).toEqual({ seq: 2, hash: second.hash });
    const db = new Database(store.file);
    expect(() => db.prepare("UPDATE audit SET amount = 1").run()).toThrow(/append-only/);
    expect(() => db.prepare("DELETE FROM audit").run()).toThrow(/append-only/);
    db.close();
  });

  it("is queried by session, agent, tool, decision, time, position and count", async () => {
    const store = openSqliteStore(tempHome());
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
    expect((await store.queryAudit({ afterSeq: 2, agent: "agent-1" })).map((r) => r.seq)).toEqual([
      3,
    ]);
    const seqs: number[] = [];
    for await (const row of store.iterateAudit()) seqs.push(row.seq);
    expect(seqs).toEqual([1, 2, 3, 4]);
  });
});
