import type Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { call, connectStdio, errorOf, okOf, tempHome } from "../e2e/harness.js";
import {
  adminClient,
  readBooks,
  refundPolicy,
  refundPosts,
  refundsOn,
  StripeRelay,
  waitFor,
} from "./harness.js";

/**
 * SIGKILL while a refund is in flight — reserved, sent, Stripe's answer not yet back —
 * then a restart on the same data directory and the same Stripe. Start-up reconciliation
 * must find the reservation and replay its idempotency key: one refund in Stripe whatever
 * happened before the kill, the ledger settled with Stripe's amount, an intact audit chain
 * and caps that still count it.
 */

const CHARGE = DEMO.charges.acmeLarge;
const REFUND = { charge: CHARGE, amount: 6_000, reason: "duplicate" } as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  sandbox: Sandbox;
  relay: StripeRelay;
  admin: Stripe;
  home: string;
  start(): ReturnType<typeof connectStdio>;
}

async function setup(): Promise<Setup> {
  const sandbox = await startSandbox({ port: 0, seed: "demo" });
  const relay = await StripeRelay.start(sandbox);
  const home = tempHome();
  cleanups.push(
    () => sandbox.close(),
    () => relay.down(),
    () => home.cleanup(),
  );
  // $60 of a $100 day in flight: what is left after the crash shows whether it still counts.
  const policy = refundPolicy(home.dir, { per_call: 100, per_day: 100 });
  return {
    sandbox,
    relay,
    admin: adminClient(sandbox),
    home: home.dir,
    async start() {
      const server = await connectStdio({
        policy,
        home: home.dir,
        sandbox: { ...sandbox, url: relay.url },
        key: sandbox.keys.roles["support-refunds"],
      });
      cleanups.push(() => server.close());
      return server;
    },
  };
}

/** Sends the refund, waits until Stripe holds it (hanging), and SIGKILLs the server. */
async function killInFlight(s: Setup, afterApply: boolean): Promise<void> {
  s.sandbox.faults.add({ method: "POST", path: "/v1/refunds", kind: "hang", afterApply });
  const server = await s.start();
  const pid = server.transport.pid;
  if (pid === null) throw new Error("the server has no pid");
  const answer = call(server.client, "issue_refund", REFUND).then(
    () => "answered",
    () => "no answer",
  );
  await waitFor("the refund to reach Stripe", () => refundPosts(s.sandbox).length === 1);
  process.kill(pid, "SIGKILL");
  await waitFor("the server to die", () => !isAlive(pid));
  expect(await answer).toBe("no answer");
  const books = await readBooks(s.home);
  expect(books.admissions.map((a) => [a.state, a.owner_pid])).toEqual([["reserved", pid]]);
  expect(books.chain.ok).toBe(true);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("SIGKILL with a refund in flight", () => {
  it.each([
    ["before Stripe applied it", false],
    ["after Stripe applied it", true],
  ])(
    "killed %s: the restart settles it once, the audit verifies, the cap still counts it",
    async (_, afterApply) => {
      const s = await setup();
      await killInFlight(s, afterApply);

      const server = await s.start();
      const dayUsed = okOf<{ caps: { per_day: { used: number } } }>(
        await call(server.client, "session_status"),
      ).caps.per_day.used;
      const over = errorOf(await call(server.client, "issue_refund", { ...REFUND, amount: 4_500 }));
      const fits = okOf<{ amount: { amount: number } }>(
        await call(server.client, "issue_refund", { ...REFUND, amount: 4_000 }),
      );
      const log = server.stderr();
      await server.close();

      expect(log).toMatch(/"reconciled":\{"checked":1,"settled":1,"released":0,"unresolved":0/);
      expect(dayUsed).toBe(6_000);
      expect(over.code).toBe("cap_day");
      expect(fits.amount.amount).toBe(4_000);
      // The replay carried the killed request's key: Stripe holds one refund for it.
      const posts = refundPosts(s.sandbox);
      expect(posts.map((p) => p.status)).toEqual([0, 200, 200]);
      expect(posts[1]?.idempotencyKey).toBe(posts[0]?.idempotencyKey);
      const refunds = await refundsOn(s.admin, CHARGE);
      expect(refunds.map((r) => r.amount).sort()).toEqual([4_000, 6_000]);
      const books = await readBooks(s.home);
      expect(books.admissions.map((a) => [a.state, a.amount_cap])).toEqual([
        ["settled", 6_000],
        ["settled", 4_000],
      ]);
      const reconciled = books.audit.find((r) => r.outcome === "reconciled");
      expect(reconciled).toMatchObject({
        amount_cap: 6_000,
        idempotency_key: posts[0]?.idempotencyKey,
      });
      expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
    },
  );

  it("restarted while Stripe is unreachable: nothing is released, it keeps counting; the next start settles it", async () => {
    const s = await setup();
    await killInFlight(s, true);
    await s.relay.down();

    const blind = await s.start();
    const dayUsed = okOf<{ caps: { per_day: { used: number } } }>(
      await call(blind.client, "session_status"),
    ).caps.per_day.used;
    const blindLog = blind.stderr();
    await blind.close();
    const whileDown = (await readBooks(s.home)).admissions.map((a) => a.state);

    await s.relay.up();
    const server = await s.start();
    const log = server.stderr();
    await server.close();

    expect(blindLog).toMatch(/"unresolved":1/);
    expect(whileDown).toEqual(["reserved"]);
    expect(dayUsed).toBe(6_000);
    expect(log).toMatch(/"settled":1/);
    expect((await refundsOn(s.admin, CHARGE)).map((r) => r.amount)).toEqual([6_000]);
    const books = await readBooks(s.home);
    expect(books.admissions.map((a) => [a.state, a.amount_cap])).toEqual([["settled", 6_000]]);
    expect(books.chain.ok).toBe(true);
  });
});
