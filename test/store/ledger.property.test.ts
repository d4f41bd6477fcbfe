import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkCaps } from "../../src/guard/caps.js";
import { fxTable } from "../../src/money/currency.js";
import type { PolicyCaps } from "../../src/policy/load.js";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";
import type { AdmissionState, AuditEntry } from "../../src/store/store.js";
import { removeTempHomes, tempHome } from "../guard/fixtures/home.js";

/**
 * The ledger against a model of the contract: random caps, random sequences of
 * reserve / settle / release / unknown / time passing. The store must admit exactly when
 * the model says every cap still holds (`settled + reserved + unknown + this ≤ cap`, with
 * released money counting for nothing), so no cap is ever exceeded and released money is
 * available again.
 */

afterAll(removeTempHomes);

const T0 = Date.parse("2026-03-02T09:00:00.000Z");
const DAY = 86_400_000;
const SESSIONS = ["ses_1", "ses_2", "ses_3"] as const;
const CUSTOMERS = ["cus_1", "cus_2", null] as const;

type Op =
  | { kind: "reserve"; session: number; customer: number; amount: number }
  | { kind: "settle"; pick: number; percent: number }
  | { kind: "release"; pick: number }
  | { kind: "unknown"; pick: number }
  | { kind: "wait"; ms: number }
  /** To a few ms around the moment an earlier admission leaves the 24 h window. */
  | { kind: "age"; pick: number; offset: number };

// Unbiased: small caps would refuse nearly everything and leave nothing to count.
const capArb = fc.option(fc.noBias(fc.integer({ min: 0, max: 20_000 })), { nil: null });
const capsArb = fc.record({
  perCall: capArb,
  perSession: capArb,
  perDay: capArb,
  perCustomerPerDay: capArb,
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("reserve" as const),
      session: fc.nat(SESSIONS.length - 1),
      customer: fc.nat(CUSTOMERS.length - 1),
      amount: fc.noBias(fc.integer({ min: 1, max: 8_000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      percent: fc.noBias(fc.integer({ min: 0, max: 100 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("unknown" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      ms: fc.oneof(
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 1, max: 30 * 3_600_000 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("age" as const),
      pick: fc.nat(),
      offset: fc.integer({ min: -2, max: 2 }),
    }),
  },
);

interface ModelRow {
  id: string;
  session: string;
  customer: string | null;
  amount: number;
  state: AdmissionState;
  createdAt: number;
}

/** The contract's counting rule, independent of SQL. */
function modelAllows(
  rows: readonly ModelRow[],
  caps: PolicyCaps,
  op: { session: string; customer: string | null; amount: number },
  now: number,
): boolean {
  const counted = rows.filter((r) => r.state !== "released");
  const inDay = counted.filter((r) => r.state !== "settled" || r.createdAt > now - DAY);
  const sum = (list: readonly ModelRow[]) => list.reduce((total, r) => total + r.amount, 0);
  const fits = (cap: number | null, used: number) => cap === null || used + op.amount <= cap;
  return (
    fits(caps.perCall, 0) &&
    fits(caps.perSession, sum(counted.filter((r) => r.session === op.session))) &&
    fits(caps.perDay, sum(inDay)) &&
    (op.customer === null ||
      fits(caps.perCustomerPerDay, sum(inDay.filter((r) => r.customer === op.customer))))
  );
}

const audit: AuditEntry = {
  at: new Date(T0).toISOString(),
  session: "ses_1",
  agent: "agent",
  tool: "issue_refund",
  args: "{}",
  decision: "allow",
  code: null,
  rule: null,
  reason: null,
  stripe_request_id: null,
  idempotency_key: null,
  amount: null,
  currency: null,
  amount_cap: null,
  cap_currency: null,
  revenue_at_risk_cap: null,
  customer: null,
  outcome: "ok",
  duration_ms: 0,
};

type MoneyCaps = Pick<PolicyCaps, "perCall" | "perSession" | "perDay" | "perCustomerPerDay">;

function policyCaps(caps: MoneyCaps): PolicyCaps {
  return {
    currency: "usd",
    ...caps,
    cancellationsPerSession: null,
    cancellationsPerDay: null,
    approvalOver: null,
    fx: fxTable("usd", {}),
  };
}

async function reserve(
  store: SqliteStore,
  caps: PolicyCaps,
  session: string,
  customer: string | null,
  amount: number,
  now: number,
) {
  return await store.admit(
    {
      session,
      agent: "agent",
      tool: "issue_refund",
      customer,
      call_key: null,
      idempotency_key: null,
      repeat_of: null,
      amount,
      currency: "usd",
      amount_cap: amount,
      revenue_at_risk_cap: null,
      cancellation: false,
      args: "{}",
      account: null,
      owner_pid: process.pid,
      owner_host: null,
      owner_instance: null,
      created_at: now,
    },
    (usage) =>
      checkCaps(
        {
          tool: "issue_refund",
          caps,
          limits: { perSession: null, perHour: null },
          charge: {
            moves: { amount, currency: "usd" },
            amountCap: amount,
            capCurrency: "usd",
            revenueAtRiskCap: null,
            cancellation: false,
          },
          hasCustomer: customer !== null,
        },
        usage,
      ),
  );
}

describe("the ledger", () => {
  it("admits exactly what the caps allow, under any sequence of reserve, settle, release and unknown", async () => {
    await fc.assert(
      fc.asyncProperty(
        capsArb,
        fc.array(opArb, { minLength: 1, maxLength: 40, size: "max" }),
        async (rawCaps, ops) => {
          const caps = policyCaps(rawCaps);
          const store = openSqliteStore(tempHome(), { synchronous: "normal" }); // durability is not what is tested here
          const model: ModelRow[] = [];
          let now = T0;
          try {
            for (const op of ops) {
              const open = model.filter((r) => r.state === "reserved" || r.state === "unknown");
              const target = "pick" in op ? open[op.pick % Math.max(open.length, 1)] : undefined;
              switch (op.kind) {
                case "reserve": {
                  const session = SESSIONS[op.session] ?? "ses_1";
                  const customer = CUSTOMERS[op.customer] ?? null;
                  const expected = modelAllows(
                    model,
                    caps,
                    { session, customer, amount: op.amount },
                    now,
                  );
                  const result = await reserve(store, caps, session, customer, op.amount, now);
                  expect(result.admitted).toBe(expected);
                  if (result.admitted) {
                    model.push({
                      id: result.admission.id,
                      session,
                      customer,
                      amount: op.amount,
                      state: "reserved",
                      createdAt: now,
                    });
                  }
                  break;
                }
                case "settle":
                  if (target) {
                    // Stripe may report less than was reserved (never more, here).
                    const amount = Math.floor((target.amount * op.percent) / 100);
                    await store.settle(
                      target.id,
                      { amount, amount_cap: amount, stripe_request_id: null, result: null },
                      audit,
                    );
                    target.amount = amount;
                    target.state = "settled";
                  }
                  break;
                case "release":
                  if (target) {
                    await store.release(target.id, audit);
                    target.state = "released";
                  }
                  break;
                case "unknown":
                  if (target?.state === "reserved") {
                    await store.markUnknown(target.id, audit);
                    target.state = "unknown";
                  }
                  break;
                case "wait":
                  now += op.ms;
                  break;
                case "age": {
                  const row = model[op.pick % Math.max(model.length, 1)];
                  if (row) now = Math.max(now, row.createdAt + DAY + op.offset);
                  break;
                }
              }
              await assertUsage(store, caps, model, now);
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("makes released money available again, to the cent", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 5 }),
        async (amount, count) => {
          const caps = policyCaps({
            perCall: null,
            perSession: amount * count,
            perDay: amount * count,
            perCustomerPerDay: null,
          });
          const store = openSqliteStore(tempHome(), { synchronous: "normal" }); // durability is not what is tested here
          try {
            const admitted = [];
            for (let i = 0; i < count; i++) {
              admitted.push(await reserve(store, caps, "ses_1", "cus_1", amount, T0));
            }
            expect(admitted.every((r) => r.admitted)).toBe(true);
            expect((await reserve(store, caps, "ses_1", "cus_1", 1, T0)).admitted).toBe(false);
            const first = admitted[0];
            if (!first?.admitted) throw new Error("unreachable");
            await store.release(first.admission.id, audit);
            expect((await reserve(store, caps, "ses_1", "cus_1", amount + 1, T0)).admitted).toBe(
              false,
            );
            expect((await reserve(store, caps, "ses_1", "cus_1", amount, T0)).admitted).toBe(true);
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

/**
 * The store's usage figures (running totals) equal the model's, computed from the rows:
 * so the totals are right, and no cap is ever exceeded.
 */
async function assertUsage(
  store: SqliteStore,
  caps: PolicyCaps,
  model: readonly ModelRow[],
  now: number,
): Promise<void> {
  const counted = model.filter((r) => r.state !== "released");
  const inDay = counted.filter((r) => r.state !== "settled" || r.createdAt > now - DAY);
  const sum = (rows: readonly ModelRow[]) => rows.reduce((total, r) => total + r.amount, 0);
  for (const session of SESSIONS) {
    for (const customer of CUSTOMERS) {
      const usage = await store.usage({
        session,
        agent: "agent",
        tool: "issue_refund",
        customer,
        at: now,
      });
      expect(usage).toEqual({
        sessionSpend: sum(counted.filter((r) => r.session === session)),
        daySpend: sum(inDay),
        customerDaySpend: customer === null ? 0 : sum(inDay.filter((r) => r.customer === customer)),
        toolCallsSession: model.filter((r) => r.session === session).length,
        toolCallsHour: model.filter((r) => r.createdAt > now - 3_600_000).length,
        cancellationsSession: 0,
        cancellationsDay: 0,
      });
      if (caps.perSession !== null) expect(usage.sessionSpend).toBeLessThanOrEqual(caps.perSession);
      if (caps.perDay !== null) expect(usage.daySpend).toBeLessThanOrEqual(caps.perDay);
      if (caps.perCustomerPerDay !== null && customer !== null) {
        expect(usage.customerDaySpend).toBeLessThanOrEqual(caps.perCustomerPerDay);
      }
    }
  }
  if (caps.perCall !== null) {
    for (const row of model) expect(row.amount).toBeLessThanOrEqual(caps.perCall);
  }
}
