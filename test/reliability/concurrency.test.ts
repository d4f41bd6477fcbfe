import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { call, connectStdio, errorOf, okOf, tempHome } from "../e2e/harness.js";
import { adminClient, readBooks, refundPolicy, refundsOn } from "./harness.js";

/**
 * Many server processes on one SPENDGUARD_HOME, each firing its refunds all at once at
 * one agent's daily cap. The money Stripe moved must stay within the cap and agree, to
 * the cent, with what the agents were told, the ledger and the audit.
 */

const SERVERS = 8;
const CALLS_EACH = 50;
/** $300 a day against $500 of refundable charge: only the cap can stop a refund. */
const CAP_DOLLARS = 300;
const CHARGE = DEMO.charges.acmeLarge;

let sandbox: Sandbox;
const home = tempHome();

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
});
afterAll(async () => {
  await sandbox.close();
  home.cleanup();
});

/** Distinct amounts within a server (a repeat would be an idempotent replay), $1–$15. */
function amountOf(server: number, call: number): number {
  return 100 + (((server * CALLS_EACH + call) * 37) % 1_400);
}

describe("one daily cap, many processes", () => {
  it(`${SERVERS} stdio servers × ${CALLS_EACH} parallel refunds: Stripe ≤ cap = ledger = audit`, async () => {
    const policy = refundPolicy(home.dir, { per_call: 100, per_day: CAP_DOLLARS });
    const servers = await Promise.all(
      Array.from({ length: SERVERS }, () =>
        connectStdio({
          policy,
          home: home.dir,
          sandbox,
          key: sandbox.keys.roles["support-refunds"],
        }),
      ),
    );

    const outcomes = await Promise.all(
      servers.flatMap((server, s) =>
        Array.from({ length: CALLS_EACH }, async (_, i) => {
          const amount = amountOf(s, i);
          const result = await call(server.client, "issue_refund", {
            charge: CHARGE,
            amount,
            reason: "duplicate",
          });
          return result.isError
            ? { amount, code: errorOf(result).code, refund: null }
            : { amount, code: "ok", refund: okOf<{ id: string }>(result).id };
        }),
      ),
    );
    await Promise.all(servers.map((server) => server.close()));

    // Every call answered, and only the cap refused any.
    expect(outcomes).toHaveLength(SERVERS * CALLS_EACH);
    expect(new Set(outcomes.map((o) => o.code))).toEqual(new Set(["ok", "cap_day"]));
    const told = outcomes.filter((o) => o.code === "ok");
    const toldCents = told.reduce((sum, o) => sum + o.amount, 0);

    const refunds = await refundsOn(adminClient(sandbox), CHARGE);
    const stripeCents = refunds.reduce((sum, r) => sum + r.amount, 0);
    expect(stripeCents).toBeLessThanOrEqual(CAP_DOLLARS * 100);
    // The cap really was fought over: the smallest refusal would not have fitted.
    const smallestRefused = Math.min(
      ...outcomes.filter((o) => o.code === "cap_day").map((o) => o.amount),
    );
    expect(stripeCents + smallestRefused).toBeGreaterThan(CAP_DOLLARS * 100);
    expect(new Set(refunds.map((r) => r.id))).toEqual(new Set(told.map((o) => o.refund)));
    expect(stripeCents).toBe(toldCents);

    const books = readBooks(home.dir);
    expect(new Set(books.admissions.map((a) => a.state))).toEqual(new Set(["settled"]));
    expect(books.admissions.reduce((sum, a) => sum + a.amount_cap, 0)).toBe(stripeCents);
    const allowed = books.audit.filter((r) => r.tool === "issue_refund" && r.outcome === "ok");
    expect(allowed.reduce((sum, r) => sum + (r.amount_cap ?? 0), 0)).toBe(stripeCents);
    expect(books.audit.filter((r) => r.tool === "issue_refund")).toHaveLength(SERVERS * CALLS_EACH);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);
});
