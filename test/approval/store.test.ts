import { afterAll, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/chain.js";
import { allow, deny } from "../../src/policy/decision.js";
import type {
  AdmissionRequest,
  ApprovalDecision,
  ApprovalRequest,
  AuditEntry,
  Store,
} from "../../src/store/store.js";
import { removeTempHomes } from "../guard/fixtures/home.js";
import { describeEachStore, type StoreKind } from "../store/stores.js";

/** The approvals table: one open request per binding, decisions once, a use per admission. */

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
const TTL = 15 * 60_000;

const request = (overrides: Partial<ApprovalRequest> = {}): ApprovalRequest => ({
  id: `apr_${Math.random().toString(16).slice(2).padEnd(24, "0").slice(0, 24)}`,
  binding: "b1",
  session: "ses_a",
  agent: "agent-1",
  tool: "issue_refund",
  args: '{"charge":"ch_1"}',
  account: null,
  customer: "cus_1",
  amount: 5_000,
  currency: "usd",
  amount_cap: 5_000,
  cap_currency: "usd",
  rule: "require_approval_over",
  summary: "refund $50.00?",
  ttl_ms: TTL,
  approval_via: "either",
  created_at: T0,
  expires_at: T0 + TTL,
  ...overrides,
});

const admission = (overrides: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  session: "ses_a",
  agent: "agent-1",
  tool: "issue_refund",
  customer: "cus_1",
  call_key: null,
  idempotency_key: null,
  repeat_of: null,
  amount: 5_000,
  currency: "usd",
  amount_cap: 5_000,
  revenue_at_risk_cap: null,
  cancellation: false,
  args: "{}",
  account: null,
  owner_pid: process.pid,
  owner_host: null,
  owner_instance: null,
  created_at: T0 + 1_000,
  ...overrides,
});

const entryFor = (decision: ApprovalDecision): AuditEntry => ({
  at: new Date(decision.at).toISOString(),
  session: "ses_a",
  agent: "agent-1",
  tool: "issue_refund",
  args: "{}",
  decision: decision.to === "approved" ? "allow" : "deny",
  code: null,
  rule: "approval",
  reason: `${decision.id} ${decision.to} ${decision.by}`,
  stripe_request_id: null,
  idempotency_key: null,
  amount: null,
  currency: null,
  amount_cap: null,
  cap_currency: null,
  revenue_at_risk_cap: null,
  customer: null,
  outcome: decision.to,
  duration_ms: 0,
});

async function decide(store: Store, id: string, to: ApprovalDecision["to"], at = T0 + 500) {
  const decision: ApprovalDecision = { id, to, at, by: "cli", reason: null };
  return await store.decideApproval(decision, () => entryFor(decision));
}

const unusable = () => deny("approval_required", "approval", "used up");

describeEachStore("approval requests", (kind) => {
  it("one open request per binding: the same call finds it, a lapsed one is replaced", async () => {
    const store = await openStore(kind);
    const first = await store.findOrRequestApproval(request());
    expect(first).toMatchObject({ created: true, approval: { state: "pending" } });
    const again = await store.findOrRequestApproval(request({ created_at: T0 + 60_000 }));
    expect(again).toMatchObject({ created: false, approval: { id: first.approval.id } });
    const other = await store.findOrRequestApproval(request({ binding: "b2" }));
    expect(other.created).toBe(true);
    const later = await store.findOrRequestApproval(request({ created_at: T0 + TTL }));
    expect(later.created).toBe(true);
    expect(later.approval.id).not.toBe(first.approval.id);
    await store.close();
  });

  it("are decided once, before they lapse, with the audit row in the same transaction", async () => {
    const store = await openStore(kind);
    const { approval } = await store.findOrRequestApproval(request());
    const done = await decide(store, approval.id, "approved", T0 + 60_000);
    expect(done).toMatchObject({
      applied: true,
      approval: { state: "approved", decided_by: "cli", expires_at: T0 + 60_000 + TTL },
      record: { seq: 1, rule: "approval", outcome: "approved" },
    });
    expect(await decide(store, approval.id, "rejected")).toMatchObject({
      applied: false,
      approval: { state: "approved" },
    });
    const late = await store.findOrRequestApproval(request({ binding: "b2" }));
    expect(await decide(store, late.approval.id, "approved", T0 + TTL)).toMatchObject({
      applied: false,
      approval: { state: "pending" },
    });
    expect(await decide(store, "apr_missing", "approved")).toEqual({
      applied: false,
      approval: undefined,
    });
    const timedOut = await store.findOrRequestApproval(request({ binding: "b3" }));
    expect(await decide(store, timedOut.approval.id, "expired", T0 + 1_000)).toMatchObject({
      approval: { state: "expired", expires_at: T0 + 1_000 },
    });
    expect(await store.queryAudit({})).toHaveLength(2);
    expect(await verifyAudit(store)).toEqual({ ok: true, rows: 2 });
    await store.close();
  });

  it("list newest first, by state, session, agent and whether still open", async () => {
    const store = await openStore(kind);
    const a = (await store.findOrRequestApproval(request({ binding: "a" }))).approval;
    const b = (await store.findOrRequestApproval(request({ binding: "b", created_at: T0 + 1 })))
      .approval;
    const c = (
      await store.findOrRequestApproval(
        request({ binding: "c", session: "ses_b", created_at: T0 + 2, expires_at: T0 + 10 }),
      )
    ).approval;
    await decide(store, b.id, "rejected");
    const ids = async (filter: Parameters<Store["listApprovals"]>[0]) =>
      (await store.listApprovals(filter)).map((row) => row.id);
    expect(await ids({})).toEqual([c.id, b.id, a.id]);
    expect(await ids({ states: ["pending"] })).toEqual([c.id, a.id]);
    expect(await ids({ states: ["pending"], openAt: T0 + 10 })).toEqual([a.id]);
    expect(await ids({ session: "ses_b" })).toEqual([c.id]);
    expect(await ids({ agent: "nobody" })).toEqual([]);
    expect(await ids({ limit: 1 })).toEqual([c.id]);
    await store.close();
  });

  it("with liveSession, only those whose session is still active: an ended one can use none", async () => {
    const store = await openStore(kind);
    const session = async (id: string, state: "active" | "ended") =>
      await store.createSession({
        id,
        agent: "agent-1",
        policy_name: "p",
        policy_hash: "h",
        started_at: T0,
        expires_at: null,
        state,
        state_changed_at: state === "active" ? null : T0,
        killed_by: null,
        kill_reason: null,
      });
    await session("ses_a", "active");
    await session("ses_b", "ended");
    const live = (await store.findOrRequestApproval(request({ binding: "a" }))).approval;
    await store.findOrRequestApproval(request({ binding: "b", session: "ses_b" }));
    const ids = (await store.listApprovals({ states: ["pending"], liveSession: true })).map(
      (row) => row.id,
    );
    expect(ids).toEqual([live.id]);
    expect(await store.listApprovals({ states: ["pending"] })).toHaveLength(2);
    await store.close();
  });
});

describeEachStore("using an approval", (kind) => {
  it("an admission uses it up and is linked to it; only one admission can", async () => {
    const store = await openStore(kind);
    const { approval } = await store.findOrRequestApproval(request());
    await decide(store, approval.id, "approved");
    const first = await store.admit(admission(), () => allow("test", "ok"), {
      id: approval.id,
      unusable,
    });
    if (!first.admitted) throw new Error("not admitted");
    expect(await store.getApproval(approval.id)).toMatchObject({
      state: "used",
      used_at: T0 + 1_000,
      admission: first.admission.id,
    });
    const second = await store.admit(admission(), () => allow("test", "ok"), {
      id: approval.id,
      unusable,
    });
    expect(second).toMatchObject({ admitted: false, decision: { reason: "used up" } });
    expect(await store.listAdmissions({})).toHaveLength(1);
    await store.close();
  });

  it("a call the caps refuse leaves it unused; a pending or lapsed one cannot be used", async () => {
    const store = await openStore(kind);
    const { approval } = await store.findOrRequestApproval(request());
    const refusedByCaps = await store.admit(
      admission(),
      () => deny("cap_session", "caps.per_session", "no"),
      { id: approval.id, unusable },
    );
    expect(refusedByCaps).toMatchObject({ admitted: false, decision: { code: "cap_session" } });
    // Still pending: not approved, so it cannot be used.
    expect(await store.useApproval(approval.id, T0 + 1_000, null)).toBe(false);
    await decide(store, approval.id, "approved");
    expect((await store.getApproval(approval.id))?.state).toBe("approved");
    expect(await store.useApproval(approval.id, T0 + 500 + TTL, null)).toBe(false);
    expect(await store.useApproval(approval.id, T0 + 1_000, "adm_9")).toBe(true);
    expect(await store.getApproval(approval.id)).toMatchObject({
      state: "used",
      admission: "adm_9",
    });
    await store.close();
  });
});

describeEachStore("operator views", (kind) => {
  it("a decision row is not a call: reports and session summaries leave it out", async () => {
    const store = await openStore(kind);
    await store.createSession({
      id: "ses_a",
      agent: "agent-1",
      policy_name: "p",
      policy_hash: "h",
      started_at: T0,
      expires_at: null,
      state: "active",
      state_changed_at: null,
      killed_by: null,
      kill_reason: null,
    });
    const { approval } = await store.findOrRequestApproval(request());
    await decide(store, approval.id, "rejected");
    await store.appendAudit({
      ...entryFor({ id: approval.id, to: "rejected", at: T0, by: "cli", reason: null }),
      rule: "require_approval_over",
      code: "approval_declined",
      outcome: "denied",
    });
    expect((await store.sessionSummaries({}))[0]).toMatchObject({ calls: 1, denied: 1 });
    const report = await store.report({ since: T0 - 1, by: "agent" });
    expect(report.calls).toMatchObject([{ key: "agent-1", calls: 1, denied: 1 }]);
    expect(report.denials).toMatchObject([{ code: "approval_declined", count: 1 }]);
    await store.close();
  });
});
