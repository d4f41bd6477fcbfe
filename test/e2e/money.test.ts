import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Stripe from "stripe";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord } from "../../src/store/store.js";
import { call, connectStdio, errorOf, okOf, policyFile, tempHome } from "./harness.js";

/**
 * Money over the real stdio server and the sandbox: caps stop a refund loop exactly,
 * two processes share one daily cap, a repeated refund is replayed, the kill flag stops
 * the very next call before anything reaches Stripe, and a key without a permission is
 * reported as such. What the sandbox refunded is compared with what the audit says.
 */

let sandbox: Sandbox;
let admin: Stripe;
let home: ReturnType<typeof tempHome>;

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  admin = new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
  home = tempHome();
});

afterEach(async () => {
  await sandbox.close();
  home.cleanup();
});

const supportKey = () => sandbox.keys.roles["support-refunds"];

/** support-refunds with caps replaced, so each test states the caps it exercises. */
function supportPolicy(caps: Record<string, number | string>, extra: Record<string, unknown> = {}) {
  return policyFile(home.dir, "support-refunds", { caps: { currency: "usd", ...caps }, ...extra });
}

async function refundedOn(charge: string): Promise<number> {
  const refunds = await admin.refunds.list({ charge, limit: 100 });
  return refunds.data.reduce((sum, r) => sum + r.amount, 0);
}

async function auditRows(): Promise<AuditRecord[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.queryAudit({});
  } finally {
    await store.close();
  }
}

describe("caps", () => {
  it("a refund loop stops exactly at the session cap, and the sandbox agrees with the audit", async () => {
    const policy = supportPolicy({ per_call: 100, per_session: 250, per_day: 1000 });
    const server = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      // Different amounts, so no call is an idempotent repeat of another.
      const result = await call(server.client, "issue_refund", {
        charge: DEMO.charges.acmeLarge,
        amount: 5000 - i,
        reason: "requested_by_customer",
      });
      codes.push(result.isError ? errorOf(result).code : "ok");
    }
    await server.close();

    // 5000 + 4999 + 4998 + 4997 + 4996 = 24990 ≤ 25000; the sixth would pass the cap.
    expect(codes).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "cap_session",
      "cap_session",
      "cap_session",
    ]);
    const refunded = await refundedOn(DEMO.charges.acmeLarge);
    expect(refunded).toBe(24_990);
    const audited = (await auditRows())
      .filter((r) => r.tool === "issue_refund" && r.outcome === "ok")
      .reduce((sum, r) => sum + (r.amount_cap ?? 0), 0);
    expect(audited).toBe(refunded);
    const denial = (await auditRows()).find((r) => r.code === "cap_session");
    expect(denial?.reason).toMatch(/\$0\.10 left of the \$250\.00 session cap/);
  });

  it("two servers on one SPENDGUARD_HOME share the daily cap, even firing in parallel", async () => {
    const policy = supportPolicy({ per_call: 100, per_session: 1000, per_day: 100 });
    const a = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const b = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const attempts = [a, b].flatMap((server, s) =>
      Array.from({ length: 6 }, (_, i) =>
        call(server.client, "issue_refund", {
          charge: DEMO.charges.acmeLarge,
          amount: 1500 + s * 10 + i,
          reason: "duplicate",
        }),
      ),
    );
    const results = await Promise.all(attempts);
    await Promise.all([a.close(), b.close()]);

    const refunded = await refundedOn(DEMO.charges.acmeLarge);
    // Any six of these amounts fit under the $100.00 day cap, any seven do not: exactly six
    // go through, whichever server sent them, and the other six are refused by the cap.
    const allowed = results.filter((r) => !r.isError).length;
    expect(allowed).toBe(6);
    expect(refunded).toBeLessThanOrEqual(10_000);
    expect(results.filter((r) => r.isError).map((r) => errorOf(r).code)).toEqual(
      Array(6).fill("cap_day"),
    );
    const audited = (await auditRows())
      .filter((r) => r.tool === "issue_refund" && r.outcome === "ok")
      .reduce((sum, r) => sum + (r.amount_cap ?? 0), 0);
    expect(audited).toBe(refunded);
  });

  it("a repeated identical refund is replayed, not repeated", async () => {
    const policy = supportPolicy({ per_call: 100, per_session: 250 });
    const server = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const args = { charge: DEMO.charges.acmeSmallB, amount: 1234, reason: "duplicate" };
    const first = okOf<{ id: string; spendguard: { replayed: boolean; session_left: number } }>(
      await call(server.client, "issue_refund", args),
    );
    const second = okOf<{ id: string; spendguard: { replayed: boolean; session_left: number } }>(
      await call(server.client, "issue_refund", args),
    );
    await server.close();
    expect(second.id).toBe(first.id);
    expect(first.spendguard.replayed).toBe(false);
    expect(second.spendguard.replayed).toBe(true);
    // Counted once against the cap.
    expect(second.spendguard.session_left).toBe(25_000 - 1234);
    const refunds = await admin.refunds.list({ charge: DEMO.charges.acmeSmallB });
    expect(refunds.data.map((r) => r.id)).toEqual([first.id]);
  });
});

describe("kill switch", () => {
  for (const target of ["session", "ALL"] as const) {
    it(`the kill flag (${target}) stops the very next call, and nothing more reaches Stripe`, async () => {
      const policy = supportPolicy({ per_call: 100, per_session: 250 });
      const server = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
      okOf(await call(server.client, "lookup_charge", { charge: DEMO.charges.acmeLarge }));
      const { session_id } = okOf<{ session_id: string }>(
        await call(server.client, "session_status"),
      );
      mkdirSync(join(home.dir, "kill"), { recursive: true });
      writeFileSync(join(home.dir, "kill", target === "ALL" ? "ALL" : session_id), "runaway loop");
      const before = sandbox.requests.length;

      const refused = errorOf(
        await call(server.client, "issue_refund", {
          charge: DEMO.charges.acmeLarge,
          amount: 500,
          reason: "duplicate",
        }),
      );
      const again = errorOf(
        await call(server.client, "lookup_charge", { charge: DEMO.charges.acmeLarge }),
      );
      await server.close();

      expect(refused.code).toBe("session_killed");
      expect(refused.message).toMatch(/runaway loop/);
      expect(again.code).toBe("session_killed");
      expect(sandbox.requests.length).toBe(before);
      expect(await refundedOn(DEMO.charges.acmeLarge)).toBe(0);
    });
  }
});

describe("Stripe permissions", () => {
  it("a restricted key lacking a permission gives stripe_permission_denied naming it", async () => {
    const policy = supportPolicy({ per_call: 100, per_session: 250 });
    const server = await connectStdio({
      policy,
      home: home.dir,
      sandbox,
      // Reads everything, writes nothing.
      key: sandbox.keys.roles["analytics-readonly"],
    });
    const error = errorOf(
      await call(server.client, "issue_refund", {
        charge: DEMO.charges.acmeLarge,
        amount: 500,
        reason: "duplicate",
      }),
    );
    const status = okOf<{ caps: { per_session: { used: number } } }>(
      await call(server.client, "session_status"),
    );
    await server.close();
    expect(error.code).toBe("stripe_permission_denied");
    expect(error.message).toContain("rak_refund_write");
    expect(error.message).not.toMatch(/rk_test_\w{4,}/);
    // Stripe refused: the reservation was released.
    expect(status.caps.per_session.used).toBe(0);
    expect(await refundedOn(DEMO.charges.acmeLarge)).toBe(0);
  });
});
