import type Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO, type FaultRule, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { call, connectStdio, errorOf, okOf, tempHome } from "../e2e/harness.js";
import {
  adminClient,
  everyToolPolicy,
  firstCalls,
  readBooks,
  refundPolicy,
  refundPosts,
  refundsOn,
  STRIPE_TOOL_CALLS,
  StripeRelay,
  waitFor,
} from "./harness.js";

/**
 * Stripe misbehaving under a real stdio server: 5xx, rate limits, resets and timeouts
 * before and after Stripe applied a refund, and Stripe gone altogether. Each test holds
 * the three books against each other: the refunds in the sandbox, the ledger, the audit.
 */

const CHARGE = DEMO.charges.acmeLarge;
const REFUND = { charge: CHARGE, amount: 2_000, reason: "duplicate" } as const;

interface World {
  sandbox: Sandbox;
  relay: StripeRelay;
  admin: Stripe;
  home: ReturnType<typeof tempHome>;
  policy: string;
  open(
    env?: Record<string, string>,
    as?: { policy: string; key: string; args: string[] },
  ): ReturnType<typeof connectStdio>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A sandbox behind a relay (so it can go away), a data directory and a refund policy. */
async function world(caps: Record<string, number> = { per_call: 100, per_session: 250 }) {
  const sandbox = await startSandbox({ port: 0, seed: "demo" });
  const relay = await StripeRelay.start(sandbox);
  const home = tempHome();
  cleanups.push(
    () => sandbox.close(),
    () => relay.down(),
    () => home.cleanup(),
  );
  const policy = refundPolicy(home.dir, caps);
  const w: World = {
    sandbox,
    relay,
    admin: adminClient(sandbox),
    home,
    policy,
    async open(env = {}, as = { policy, key: sandbox.keys.roles["support-refunds"], args: [] }) {
      const server = await connectStdio({
        ...as,
        home: home.dir,
        sandbox: { ...sandbox, url: relay.url },
        env,
      });
      cleanups.push(() => server.close());
      return server;
    },
  };
  return w;
}

function refundFault(rule: Omit<FaultRule, "method" | "path">): FaultRule {
  return { method: "POST", path: "/v1/refunds", ...rule };
}

async function sessionUsed(client: Awaited<ReturnType<typeof connectStdio>>["client"]) {
  const status = okOf<{ caps: { per_session: { used: number } } }>(
    await call(client, "session_status"),
  );
  return status.caps.per_session.used;
}

describe("Stripe fails with a 5xx", () => {
  it.each([
    [500, false],
    [503, false],
    [500, true],
    [503, true],
  ] as const)(
    "a %i (after Stripe applied it: %s) is retried with the same key: one refund, settled once",
    async (status, afterApply) => {
      const w = await world();
      const server = await w.open();
      w.sandbox.faults.add(refundFault({ kind: "status", status, afterApply }));

      const refund = okOf<{ id: string; amount: { amount: number } }>(
        await call(server.client, "issue_refund", REFUND),
      );
      const used = await sessionUsed(server.client);
      await server.close();

      const posts = refundPosts(w.sandbox);
      expect(posts.map((p) => p.status)).toEqual([status, 200]);
      expect(new Set(posts.map((p) => p.idempotencyKey)).size).toBe(1);
      expect((await refundsOn(w.admin, CHARGE)).map((r) => [r.id, r.amount])).toEqual([
        [refund.id, 2_000],
      ]);
      const books = await readBooks(w.home.dir);
      expect(firstCalls(books.admissions).map((a) => [a.state, a.amount_cap])).toEqual([
        ["settled", 2_000],
      ]);
      expect(books.audit.map((r) => [r.outcome, r.idempotency_key])).toEqual([
        ["ok", posts[0]?.idempotencyKey],
        ["ok", null], // session_status
      ]);
      expect(books.chain.ok).toBe(true);
      expect(used).toBe(2_000);
    },
  );
});

describe("Stripe rate-limits", () => {
  it("a lock_timeout that persists: bounded backoff with one key, then stripe_unavailable, nothing counted", async () => {
    const w = await world();
    const server = await w.open();
    w.sandbox.faults.add(
      refundFault({ kind: "status", status: 429, code: "lock_timeout", times: 3 }),
    );

    const started = Date.now();
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    const elapsed = Date.now() - started;
    const usedAfterFailure = await sessionUsed(server.client);
    // The fault is used up: the same refund now goes through, counted once.
    okOf(await call(server.client, "issue_refund", REFUND));
    const usedAfterSuccess = await sessionUsed(server.client);
    await server.close();

    expect(error.code).toBe("stripe_unavailable");
    expect(error.message).toMatch(/rate limiting/);
    const posts = refundPosts(w.sandbox);
    expect(posts.map((p) => p.status)).toEqual([429, 429, 429, 200]);
    expect(new Set(posts.slice(0, 3).map((p) => p.idempotencyKey)).size).toBe(1);
    // Two backoff pauses of at least 0.5 s each, and not a moment of waiting without end.
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(5_000);
    expect(usedAfterFailure).toBe(0);
    expect(usedAfterSuccess).toBe(2_000);
    expect(await refundsOn(w.admin, CHARGE)).toHaveLength(1);
    expect(firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state)).toEqual([
      "released",
      "settled",
    ]);
  });

  it("a rate_limit is not retried: stripe_unavailable at once, released", async () => {
    const w = await world();
    const server = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "status", status: 429, code: "rate_limit" }));

    const started = Date.now();
    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    const elapsed = Date.now() - started;
    const used = await sessionUsed(server.client);
    await server.close();

    expect(error.code).toBe("stripe_unavailable");
    expect(elapsed).toBeLessThan(1_000);
    expect(refundPosts(w.sandbox).map((p) => p.status)).toEqual([429]);
    expect(used).toBe(0);
    expect(await refundsOn(w.admin, CHARGE)).toHaveLength(0);
    expect(firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state)).toEqual([
      "released",
    ]);
  });

  it("a 500 after Stripe applied the refund, then a rate_limit on the retry: unknown, not released", async () => {
    const w = await world();
    const server = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "status", status: 500, afterApply: true }));
    w.sandbox.faults.add(refundFault({ kind: "status", status: 429, code: "rate_limit" }));

    const error = errorOf(await call(server.client, "issue_refund", REFUND));
    const usedWhileUnknown = await sessionUsed(server.client);
    const stillUnknown = firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state);
    const repeat = okOf<{ id: string; spendguard: { replayed: boolean } }>(
      await call(server.client, "issue_refund", REFUND),
    );
    await server.close();

    expect(error.code).toBe("outcome_unknown");
    expect(error.message).toMatch(/being confirmed/);
    expect(refundPosts(w.sandbox).map((p) => p.status)).toEqual([500, 429, 200]);
    expect(usedWhileUnknown).toBe(2_000);
    expect(stillUnknown).toEqual(["unknown"]);
    expect(repeat.spendguard.replayed).toBe(true);
    expect((await refundsOn(w.admin, CHARGE)).map((r) => r.id)).toEqual([repeat.id]);
    const books = await readBooks(w.home.dir);
    expect(firstCalls(books.admissions).map((a) => [a.state, a.amount_cap])).toEqual([
      ["settled", 2_000],
    ]);
    expect(books.chain.ok).toBe(true);
  });
});

describe("the answer is lost after Stripe applied the refund", () => {
  it("a reset on every attempt: the agent is told it is being confirmed; it keeps counting; the repeat settles it", async () => {
    const w = await world({ per_call: 100, per_session: 30 });
    const server = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "reset", afterApply: true, times: 3 }));

    const lost = errorOf(await call(server.client, "issue_refund", REFUND));
    const used = await sessionUsed(server.client);
    // $20 unknown + $15 would pass the $30 session cap: the unknown amount counts.
    const over = errorOf(await call(server.client, "issue_refund", { ...REFUND, amount: 1_500 }));
    const repeat = okOf<{ id: string; amount: { amount: number } }>(
      await call(server.client, "issue_refund", REFUND),
    );
    await server.close();

    expect(lost.code).toBe("outcome_unknown");
    expect(lost.message).toMatch(/being confirmed/);
    expect(lost.message).not.toMatch(/fail/i);
    expect(used).toBe(2_000);
    expect(over.code).toBe("cap_session");
    expect(refundPosts(w.sandbox).map((p) => p.status)).toEqual([0, 0, 0, 200]);
    const refunds = await refundsOn(w.admin, CHARGE);
    expect(refunds.map((r) => [r.id, r.amount])).toEqual([[repeat.id, 2_000]]);
    const books = await readBooks(w.home.dir);
    expect(firstCalls(books.admissions).map((a) => [a.state, a.amount_cap])).toEqual([
      ["settled", 2_000],
    ]);
    expect(books.audit.filter((r) => r.tool === "issue_refund").map((r) => r.outcome)).toEqual([
      "unknown",
      "denied",
      "reconciled", // the first call, settled by what the repeat learned
      "replayed",
    ]);
    expect(books.chain.ok).toBe(true);
  });

  it("a repeat that meets a rate limit or no Stripe at all leaves the unknown refund counted", async () => {
    const w = await world();
    const server = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "reset", afterApply: true, times: 3 }));
    expect(errorOf(await call(server.client, "issue_refund", REFUND)).code).toBe("outcome_unknown");

    // Neither refusal comes from Stripe looking at the refund: both say nothing about it.
    w.sandbox.faults.add(refundFault({ kind: "status", status: 429, code: "rate_limit" }));
    const limited = errorOf(await call(server.client, "issue_refund", REFUND));
    const afterLimit = firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state);
    // Stripe goes away while the repeat is on its way: its retries find no Stripe.
    w.sandbox.faults.add(refundFault({ kind: "latency", latencyMs: 300 }));
    const pending = call(server.client, "issue_refund", REFUND);
    await waitFor("the repeat to reach the sandbox", () => refundPosts(w.sandbox).length === 5);
    await w.relay.down();
    const unreachable = errorOf(await pending);
    const afterOutage = firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state);
    const used = await sessionUsed(server.client);
    await w.relay.up();
    const repeat = okOf<{ id: string }>(await call(server.client, "issue_refund", REFUND));
    await server.close();

    expect(limited.code).toBe("stripe_unavailable");
    expect(afterLimit).toEqual(["unknown"]);
    expect(unreachable.code).toBe("stripe_unavailable");
    expect(afterOutage).toEqual(["unknown"]);
    expect(used).toBe(2_000);
    expect((await refundsOn(w.admin, CHARGE)).map((r) => r.id)).toEqual([repeat.id]);
    expect(
      firstCalls((await readBooks(w.home.dir)).admissions).map((a) => [a.state, a.amount_cap]),
    ).toEqual([["settled", 2_000]]);
  });

  it("a timeout on every attempt: unknown, then settled by the next server's start-up reconciliation", async () => {
    const w = await world({ per_call: 100, per_day: 1_000 });
    const first = await w.open({ SPENDGUARD_STRIPE_TIMEOUT_MS: "300" });
    w.sandbox.faults.add(refundFault({ kind: "hang", afterApply: true, times: 3 }));

    const lost = errorOf(await call(first.client, "issue_refund", REFUND));
    await first.close();
    expect(lost.code).toBe("outcome_unknown");
    expect(firstCalls((await readBooks(w.home.dir)).admissions).map((a) => a.state)).toEqual([
      "unknown",
    ]);

    const second = await w.open();
    const used = okOf<{ caps: { per_day: { used: number } } }>(
      await call(second.client, "session_status"),
    ).caps.per_day.used;
    const log = second.stderr();
    await second.close();

    expect(log).toMatch(/"settled":1/);
    expect(used).toBe(2_000);
    // Its session ended with the first server: it is not sent again, Stripe is read for its stamp.
    expect(refundPosts(w.sandbox).map((p) => p.status)).toEqual([0, 0, 0]);
    const refunds = await refundsOn(w.admin, CHARGE);
    expect(refunds.map((r) => r.amount)).toEqual([2_000]);
    const books = await readBooks(w.home.dir);
    expect(
      firstCalls(books.admissions).map((a) => [a.state, a.amount_cap, a.stripe_request_id]),
    ).toEqual([["settled", 2_000, expect.stringMatching(/^req_/)]]);
    expect(books.audit.map((r) => r.outcome)).toEqual(["unknown", "reconciled", "ok"]);
    expect(books.chain.ok).toBe(true);
  });

  it("a reset after Stripe applied it, then Stripe unreachable on the retries: unknown, not released", async () => {
    const w = await world();
    const server = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "reset", afterApply: true }));

    const pending = call(server.client, "issue_refund", REFUND);
    // The SDK waits at least 0.5 s before retrying: Stripe is gone by then.
    await waitFor("the refund to reach the sandbox", () => refundPosts(w.sandbox).length === 1);
    await w.relay.down();
    const error = errorOf(await pending);
    const used = await sessionUsed(server.client);
    await w.relay.up();
    const repeat = okOf<{ id: string }>(await call(server.client, "issue_refund", REFUND));
    await server.close();

    expect(error.code).toBe("outcome_unknown");
    expect(used).toBe(2_000);
    expect((await refundsOn(w.admin, CHARGE)).map((r) => r.id)).toEqual([repeat.id]);
    const books = await readBooks(w.home.dir);
    expect(firstCalls(books.admissions).map((a) => [a.state, a.amount_cap])).toEqual([
      ["settled", 2_000],
    ]);
  });
});

describe("Stripe is down altogether", () => {
  it("every tool fails fast with stripe_unavailable, the server stays up, and works again when Stripe is back", async () => {
    const w = await world();
    const policy = everyToolPolicy(w.home.dir, { per_call: 1_000, per_session: 5_000 });
    const server = await w.open(
      {},
      { policy, key: w.sandbox.keys.admin, args: ["--allow-secret-key"] },
    );
    const calls = Object.entries(STRIPE_TOOL_CALLS);
    await w.relay.down();

    const timed = await Promise.all(
      calls.map(async ([name, args]) => {
        const started = Date.now();
        const result = await call(server.client, name, args);
        return { name, code: errorOf(result).code, ms: Date.now() - started };
      }),
    );
    const status = okOf<{ state: string; caps: { per_session: { used: number } } }>(
      await call(server.client, "session_status"),
    );
    await w.relay.up();
    const back = await Promise.all(calls.map(([name, args]) => call(server.client, name, args)));
    await server.close();

    expect(timed.map((t) => [t.name, t.code])).toEqual(
      calls.map(([name]) => [name, "stripe_unavailable"]),
    );
    // The SDK's two retries with backoff, well short of the 20 s request timeout.
    for (const t of timed) expect(t.ms).toBeLessThan(3_000);
    expect(status.state).toBe("active");
    expect(status.caps.per_session.used).toBe(0);
    expect(back.filter((r) => r.isError).map((r) => errorOf(r))).toEqual([]);
    expect(await refundsOn(w.admin, CHARGE)).toHaveLength(1);
    const books = await readBooks(w.home.dir);
    // Nothing is left counting: what failed was released, what worked is settled.
    expect(books.admissions.filter((a) => a.state === "reserved" || a.state === "unknown")).toEqual(
      [],
    );
    expect(books.chain.ok).toBe(true);
  });
});
