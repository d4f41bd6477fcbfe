import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { DEMO, type FaultRule, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { runCli } from "../cli/helpers.js";
import {
  call,
  connectOperatorStdio,
  connectStdio,
  errorOf,
  okOf,
  policyFile,
  ROOT,
  tempHome,
} from "../e2e/harness.js";
import { connect, createKey, startHttpServer } from "../http/harness.js";
import {
  adminClient,
  firstCalls,
  readBooks,
  refundPosts,
  refundsOn,
  StripeRelay,
} from "./harness.js";

/**
 * Stripe forgets an idempotency key after 24 hours; spendguard takes 23 h as its life. A
 * real stdio server (its clock moved by a preload, as days passing would) and the sandbox
 * (its clock moved through its control API) are taken past that life, and each test
 * holds the refunds in Stripe against the ledger and the audit.
 */

const HOUR = 3_600_000;
const PAST_KEY_LIFE = 25 * HOUR;
const SHIFTED_CLOCK = join(ROOT, "test/support/shifted-clock.mjs");
const CHARGE = DEMO.charges.acmeLarge;
const REFUND = { charge: CHARGE, amount: 2_000, reason: "duplicate" } as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Open {
  policy?: string;
  args?: string[];
  key?: string;
}

/** A sandbox behind a relay, a data directory, and servers whose clock the test moves. */
async function world(policyOverrides: Record<string, unknown> = {}) {
  const sandbox = await startSandbox({ port: 0, seed: "demo" });
  const relay = await StripeRelay.start(sandbox);
  const home = tempHome();
  cleanups.push(
    () => sandbox.close(),
    () => relay.down(),
    () => home.cleanup(),
  );
  const clockFile = join(home.dir, "clock-offset");
  writeFileSync(clockFile, "0");
  let offset = 0;
  const policy = policyFile(home.dir, "support-refunds", {
    ...policyOverrides,
    session_ttl: undefined,
  });
  return {
    sandbox: sandbox as Sandbox,
    relay,
    admin: adminClient(sandbox) as Stripe,
    home: home.dir,
    policy,
    env: { SPENDGUARD_TEST_CLOCK_FILE: clockFile },
    /** Days pass, for the servers and for Stripe alike. */
    advance(ms: number) {
      offset += ms;
      writeFileSync(clockFile, String(offset));
      sandbox.advanceClock(ms);
    },
    async open(options: Open = {}) {
      const server = await connectStdio({
        policy: options.policy ?? policy,
        home: home.dir,
        sandbox: { ...sandbox, url: relay.url },
        key: options.key ?? sandbox.keys.roles["support-refunds"],
        args: options.args ?? [],
        env: { SPENDGUARD_TEST_CLOCK_FILE: clockFile },
        nodeArgs: ["--import", SHIFTED_CLOCK],
      });
      cleanups.push(() => server.close());
      return server;
    },
  };
}

function refundFault(rule: Omit<FaultRule, "method" | "path">): FaultRule {
  return { method: "POST", path: "/v1/refunds", ...rule };
}

describe("a repeat after Stripe has forgotten the key", () => {
  it("is answered from what was recorded: no second refund, and the agent is told the truth", async () => {
    const w = await world();
    const server = await w.open();
    const first = okOf<{ id: string }>(await call(server.client, "issue_refund", REFUND));
    w.advance(PAST_KEY_LIFE);
    const repeat = okOf<{ id: string; spendguard: { replayed: boolean } }>(
      await call(server.client, "issue_refund", REFUND),
    );
    await server.close();

    expect(repeat).toMatchObject({ id: first.id, spendguard: { replayed: true } });
    expect(refundPosts(w.sandbox)).toHaveLength(1);
    expect((await refundsOn(w.admin, CHARGE)).map((r) => [r.id, r.amount])).toEqual([
      [first.id, 2_000],
    ]);
    const books = await readBooks(w.home);
    expect(firstCalls(books.admissions).map((a) => [a.state, a.amount_cap])).toEqual([
      ["settled", 2_000],
    ]);
    expect(books.audit.map((r) => r.outcome)).toEqual(["ok", "replayed"]);
    expect(books.chain.ok).toBe(true);
  });

  it("counts against the call limits: repeats move nothing, but they are calls", async () => {
    const w = await world({
      tools: {
        lookup_charge: null,
        issue_refund: { calls_per_session: 2 },
      },
    });
    const server = await w.open();
    okOf(await call(server.client, "issue_refund", REFUND));
    okOf(await call(server.client, "issue_refund", REFUND));
    const third = errorOf(await call(server.client, "issue_refund", REFUND));
    await server.close();

    expect(third.code).toBe("rate_limited");
    expect(refundPosts(w.sandbox)).toHaveLength(1);
  });
});

describe("reconciling an unknown refund after the key's life", () => {
  it("a partial refund is found by its stamp, not refunded again", async () => {
    const w = await world();
    const first = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "reset", afterApply: true, times: 3 }));
    expect(errorOf(await call(first.client, "issue_refund", REFUND)).code).toBe("outcome_unknown");
    await first.close();
    const posts = refundPosts(w.sandbox).length;

    w.advance(PAST_KEY_LIFE);
    const second = await w.open();
    await call(second.client, "session_status");
    await second.close();

    expect(refundPosts(w.sandbox)).toHaveLength(posts);
    const refunds = await refundsOn(w.admin, CHARGE);
    expect(refunds.map((r) => [r.amount, r.metadata?.spendguard_admission])).toEqual([
      [2_000, "adm_1"],
    ]);
    const books = await readBooks(w.home);
    expect(firstCalls(books.admissions).map((a) => [a.id, a.state, a.amount_cap])).toEqual([
      ["adm_1", "settled", 2_000],
    ]);
    expect(books.audit.filter((r) => r.rule === "reconcile").map((r) => r.reason)).toEqual([
      expect.stringMatching(/Read Stripe: it applied/),
    ]);
  });

  it("the last part of a charge: Stripe's 'already refunded' is not taken as 'did not apply'", async () => {
    const w = await world({
      tools: { issue_refund: { params: {} } },
      caps: { currency: "usd", per_call: 1_000, per_session: 2_500, per_day: 5_000 },
    });
    const first = await w.open();
    const whole = { charge: DEMO.charges.acmeSmallB, reason: "duplicate" };
    w.sandbox.faults.add(refundFault({ kind: "reset", afterApply: true, times: 3 }));
    expect(errorOf(await call(first.client, "issue_refund", whole)).code).toBe("outcome_unknown");
    await first.close();
    const posts = refundPosts(w.sandbox).length;

    w.advance(PAST_KEY_LIFE);
    const second = await w.open();
    await call(second.client, "session_status");
    await second.close();

    expect(refundPosts(w.sandbox)).toHaveLength(posts);
    expect(
      firstCalls((await readBooks(w.home)).admissions).map((a) => [a.state, a.amount_cap]),
    ).toEqual([["settled", 5_000]]);
  });
});

describe("reconciliation passes today's gates before it sends anything", () => {
  type Served = Awaited<ReturnType<Awaited<ReturnType<typeof world>>["open"]>>;
  const session = async (w: Awaited<ReturnType<typeof world>>) =>
    (await readBooks(w.home)).admissions[0]?.session ?? "";
  /** What happens between the lost answer and the crash; what the next server runs with. */
  const cases: [
    string,
    RegExp,
    (w: Awaited<ReturnType<typeof world>>, first: Served) => Promise<Open>,
  ][] = [
    [
      "the server runs --read-only",
      /the server is read-only/,
      async () => ({ args: ["--read-only"] }),
    ],
    [
      "the policy no longer has the tool",
      /the policy no longer offers issue_refund/,
      async (w) => ({
        policy: policyFile(w.home, "support-refunds", {
          tools: { lookup_charge: null },
          session_ttl: undefined,
        }),
      }),
    ],
    [
      "the customer is out of scope",
      /its customer is out of the policy's scope/,
      async (w) => ({
        policy: policyFile(w.home, "support-refunds", {
          customers: { metadata: { tenant: "globex" } },
          session_ttl: undefined,
        }),
      }),
    ],
    [
      "the session was killed",
      /its session is killed/,
      async (w) => {
        const killed = await runCli(["kill", await session(w), "--reason", "test"], {
          env: { SPENDGUARD_HOME: w.home },
        });
        expect(killed.code).toBe(0);
        return {};
      },
    ],
    [
      "the session was ended",
      /its session is ended/,
      async (_w, first) => {
        expect(okOf(await call(first.client, "end_session", { reason: "done" }))).toBeTruthy();
        return {};
      },
    ],
  ];

  it.each(cases)("%s: only Stripe is read, nothing is refunded", async (_name, why, next) => {
    const w = await world();
    const first = await w.open();
    // Every attempt is cut before Stripe applies it: nothing moved, but nobody knows that yet.
    w.sandbox.faults.add(refundFault({ kind: "reset", times: 3 }));
    expect(errorOf(await call(first.client, "issue_refund", REFUND)).code).toBe("outcome_unknown");
    const posts = refundPosts(w.sandbox).length;
    const open = await next(w, first);
    // A crash, not a goodbye: the session stays as it was, so only the gate under test stops it.
    process.kill(first.transport.pid ?? 0, "SIGKILL");
    await first.close();

    const second = await w.open(open);
    await call(second.client, "session_status");
    await second.close();

    expect(refundPosts(w.sandbox)).toHaveLength(posts);
    expect(await refundsOn(w.admin, CHARGE)).toEqual([]);
    const books = await readBooks(w.home);
    expect(firstCalls(books.admissions).map((a) => a.state)).toEqual(["released"]);
    const reasons = books.audit.filter((r) => r.rule === "reconcile").map((r) => r.reason);
    expect(reasons).toEqual([expect.stringMatching(/Not sent again .*Read Stripe: no refund/)]);
    expect(reasons[0]).toMatch(why);
  });

  it("the key that opened the session was revoked: only Stripe is read, nothing is refunded", async () => {
    const w = await world();
    const policy = join(ROOT, "policies/support-refunds.yaml");
    const keyOf = async () => createKey(w.home, ["--agent", "support-bot", "--policy", policy]);
    const [revoked, other] = [await keyOf(), await keyOf()];
    const env = {
      STRIPE_API_KEY: w.sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: w.relay.url,
    };
    const host = await startHttpServer({ home: w.home, env });
    cleanups.push(() => host.stop("SIGKILL").then(() => undefined));
    const agent = await connect(host.url, revoked.key);
    w.sandbox.faults.add(refundFault({ kind: "reset", times: 3 }));
    expect(errorOf(await call(agent.client, "issue_refund", REFUND)).code).toBe("outcome_unknown");
    const posts = refundPosts(w.sandbox).length;
    expect(
      (await runCli(["keys", "revoke", revoked.id], { env: { SPENDGUARD_HOME: w.home } })).code,
    ).toBe(0);
    await host.stop("SIGKILL");

    // The same agent comes back on another host process with its other key.
    const next = await startHttpServer({ home: w.home, env });
    cleanups.push(() => next.stop().then(() => undefined));
    const again = await connect(next.url, other.key);
    await call(again.client, "session_status");
    await again.close();

    expect(refundPosts(w.sandbox)).toHaveLength(posts);
    expect(await refundsOn(w.admin, CHARGE)).toEqual([]);
    const books = await readBooks(w.home);
    expect(firstCalls(books.admissions).map((a) => a.state)).toEqual(["released"]);
    const reasons = books.audit.filter((r) => r.rule === "reconcile").map((r) => r.reason);
    expect(reasons).toEqual([expect.stringMatching(/Not sent again .*Read Stripe: no refund/)]);
    expect(reasons[0]).toMatch(/the key that opened its session is revoked/);
  });
});

describe("what cannot be proven", () => {
  it("stays unknown and counted, and the operator resolves it with a reason", async () => {
    const w = await world();
    const first = await w.open();
    w.sandbox.faults.add(refundFault({ kind: "reset", times: 3 }));
    expect(errorOf(await call(first.client, "issue_refund", REFUND)).code).toBe("outcome_unknown");
    await first.close();

    // Past the key's life, with Stripe out of reach: nothing can be learned.
    w.advance(PAST_KEY_LIFE);
    await w.relay.down();
    const second = await w.open();
    await call(second.client, "session_status");
    await second.close();
    await w.relay.up();
    expect(firstCalls((await readBooks(w.home)).admissions).map((a) => a.state)).toEqual([
      "unknown",
    ]);

    const env = { SPENDGUARD_HOME: w.home, ...w.env };
    const listed = await runCli(["admissions", "--json"], { env });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { id: "adm_1", tool: "issue_refund", state: "unknown", amount: 2_000, currency: "usd" },
    ]);

    const operator = await connectOperatorStdio(w.home);
    const tools = await operator.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(["list_unresolved", "resolve_admission"]),
    );
    const fromTool = okOf<{ admissions: { id: string }[] }>(
      await call(operator, "list_unresolved"),
    );
    expect(fromTool.admissions.map((a) => a.id)).toEqual(["adm_1"]);
    await operator.close();

    const resolved = await runCli(
      ["resolve", "adm_1", "--not-applied", "--reason", "no such refund in the Dashboard"],
      { env },
    );
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).toMatch(/adm_1.*not applied/);
    const books = await readBooks(w.home);
    expect(firstCalls(books.admissions).map((a) => a.state)).toEqual(["released"]);
    expect(books.audit.at(-1)).toMatchObject({
      rule: "operator",
      outcome: "reconciled",
      reason: expect.stringContaining("no such refund in the Dashboard"),
    });
    expect(JSON.parse((await runCli(["admissions", "--json"], { env })).stdout)).toEqual([]);
    expect(books.chain.ok).toBe(true);
  }, 90_000);
});

describe("a refusal that surely applied nothing", () => {
  it("does not poison the retry: the next attempt sends a fresh idempotency key", async () => {
    const w = await world();
    const policy = policyFile(w.home, "billing-collections", { session_ttl: undefined });
    const server = await w.open({ policy, key: w.sandbox.keys.roles["billing-collections"] });
    const invoice = DEMO.invoices.acmeCardFails;
    const declined = errorOf(await call(server.client, "pay_invoice", { invoice }));
    // The customer fixes their card.
    await w.admin.customers.update(DEMO.customers.acmeCardFails, { source: "tok_visa" });
    const paid = okOf<{ status: string }>(await call(server.client, "pay_invoice", { invoice }));
    await server.close();

    expect(declined.code).toBe("stripe_error");
    expect(paid.status).toBe("paid");
    const pays = w.sandbox.requests.filter(
      (r) => r.method === "POST" && r.path === `/v1/invoices/${invoice}/pay`,
    );
    expect(pays.map((r) => r.status)).toEqual([402, 200]);
    expect(new Set(pays.map((r) => r.idempotencyKey)).size).toBe(2);
  });
});
