import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEARTBEAT_MS, OWNER_SILENT_MS } from "../../src/guard/owner.js";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openStore } from "../../src/store/open.js";
import { migratePostgres, PgDatabase } from "../../src/store/postgres/database.js";
import type { Admission, Store } from "../../src/store/store.js";
import { call, errorOf, okOf, policyFile, tempHome } from "../e2e/harness.js";
import {
  connect,
  createKey,
  type HttpServer,
  outcome,
  runCli,
  startHttpServer,
} from "../http/harness.js";
import { binaries, startCluster } from "../postgres-server.js";
import {
  adminClient,
  firstCalls,
  readBooks,
  refundPolicy,
  refundPosts,
  refundsOn,
} from "../reliability/harness.js";
import { freshPostgres, POSTGRES_MISSING } from "../store/stores.js";

/**
 * Several hosts, one ledger: `serve --http` processes, each with its own SPENDGUARD_HOME
 * (as separate machines have), sharing one PostgreSQL. Caps, kills and key revocations
 * hold across them as they do across processes on one SQLite.
 */

const AGENT = "refund-bot";
/** Restarting PostgreSQL needs a server of the test's own: its binaries on this machine. */
const PG_BIN = binaries();
const NO_RESTART = "no PostgreSQL binaries here to restart a server of the test's own";
const CHARGE = DEMO.charges.acmeLarge;

let sandbox: Sandbox;
const homes: ReturnType<typeof tempHome>[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
});
afterAll(async () => {
  await sandbox.close();
  for (const home of homes) home.cleanup();
});

let hosts = 0;

/**
 * A host: its own home and host id (these processes share one machine, as separate hosts
 * do not: its pids are not theirs to look up), the shared database.
 */
async function host(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ home: string; server: HttpServer; id: string }> {
  const home = tempHome();
  homes.push(home);
  hosts += 1;
  const id = `host-${hosts}`;
  const server = await startHttpServer({
    home: home.dir,
    env: {
      STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      SPENDGUARD_DATABASE_URL: databaseUrl,
      SPENDGUARD_HOST_ID: id,
      ...env,
    },
    args: ["--rate-limit", "1000"],
  });
  return { home: home.dir, server, id };
}

/** Waits until the sandbox has received one more refund POST than `before`. */
async function refundPosted(before: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (refundPosts(sandbox).length === before && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(refundPosts(sandbox).length).toBe(before + 1);
}

/** The agent's first-call admissions, read from the shared database. */
async function admissionsOf(store: Store, agent: string): Promise<Admission[]> {
  return firstCalls(await store.listAdmissions({ agent }));
}

/** An agent's key in the shared database (default policy: $100 a refund, $1,000 a day). */
function agentKeyOn(
  home: string,
  url: string,
  agent: string,
  policy = refundPolicy(home, { per_call: 100, per_day: 1_000 }),
) {
  return createKey(home, ["--agent", agent, "--policy", policy, "--database", url]);
}

/** The operator's key in the shared database. */
function operatorKeyOn(home: string, url: string) {
  return createKey(home, ["--operator", "--name", "olivia", "--database", url]);
}

describe.skipIf(POSTGRES_MISSING)("several hosts on one PostgreSQL", () => {
  it("4 hosts × 50 parallel refunds at one agent's daily cap: Stripe ≤ cap = ledger = audit", async () => {
    const HOSTS = 4;
    const CALLS_EACH = 50;
    const CAP_DOLLARS = 300;
    const url = await freshPostgres();
    const hosts = await Promise.all(Array.from({ length: HOSTS }, () => host(url)));
    const home = hosts[0]?.home ?? "";
    const policy = refundPolicy(home, { per_call: 100, per_day: CAP_DOLLARS });
    const { key } = await agentKeyOn(home, url, AGENT, policy);
    const clients = await Promise.all(hosts.map((h) => connect(h.server.url, key)));
    const outcomes = await Promise.all(
      clients.flatMap((client, s) =>
        Array.from({ length: CALLS_EACH }, async (_, i) => {
          const amount = 100 + (((s * CALLS_EACH + i) * 37) % 1_400);
          const result = await call(client.client, "issue_refund", {
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
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(hosts.map((h) => h.server.stop()));

    expect(new Set(outcomes.map((o) => o.code))).toEqual(new Set(["ok", "cap_day"]));
    const told = outcomes.filter((o) => o.code === "ok");
    const refunds = await refundsOn(adminClient(sandbox), CHARGE);
    const stripeCents = refunds.reduce((sum, r) => sum + r.amount, 0);
    expect(stripeCents).toBeLessThanOrEqual(CAP_DOLLARS * 100);
    // Contested: the smallest refusal would not have fitted.
    const smallestRefused = Math.min(
      ...outcomes.filter((o) => o.code === "cap_day").map((o) => o.amount),
    );
    expect(stripeCents + smallestRefused).toBeGreaterThan(CAP_DOLLARS * 100);
    expect(new Set(refunds.map((r) => r.id))).toEqual(new Set(told.map((o) => o.refund)));
    expect(stripeCents).toBe(told.reduce((sum, o) => sum + o.amount, 0));

    const books = await readBooks(hosts[0]?.home ?? "", url);
    expect(new Set(books.admissions.map((a) => a.state))).toEqual(new Set(["settled"]));
    expect(books.admissions.reduce((sum, a) => sum + a.amount_cap, 0)).toBe(stripeCents);
    const allowed = books.audit.filter((r) => r.tool === "issue_refund" && r.outcome === "ok");
    expect(allowed.reduce((sum, r) => sum + (r.amount_cap ?? 0), 0)).toBe(stripeCents);
    expect(books.audit.filter((r) => r.tool === "issue_refund")).toHaveLength(HOSTS * CALLS_EACH);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 180_000);

  it("a kill and a key revocation through host A refuse host B's next call; Stripe sees nothing after", async () => {
    const url = await freshPostgres();
    const [a, b] = await Promise.all([host(url), host(url)]);
    if (!a || !b) throw new Error("unreachable");
    const policy = refundPolicy(a.home, { per_call: 100, per_day: 1_000 });
    const agentKey = (name: string) => agentKeyOn(a.home, url, name, policy);
    const operatorKey = await operatorKeyOn(a.home, url);
    const refund = (amount: number) => ({ charge: CHARGE, amount, reason: "duplicate" });

    // The kill: an operator on host A, the agent's session on host B.
    const killed = await agentKey("kill-bot");
    const agent = await connect(b.server.url, killed.key);
    expect(outcome(await call(agent.client, "issue_refund", refund(101))).ok).toBe(true);
    const operator = await connect(a.server.url, operatorKey.key);
    const kill = outcome(
      await call(operator.client, "kill_session", {
        session_id: agent.sessionId(),
        reason: "runaway loop",
      }),
    );
    expect(kill).toMatchObject({ ok: true, data: { killed: true } });
    const postsBefore = refundPosts(sandbox).length;
    expect(outcome(await call(agent.client, "issue_refund", refund(102)))).toMatchObject({
      ok: false,
      code: "session_killed",
    });

    // The revocation: `keys revoke` against the shared database, the agent on host B.
    const revoked = await agentKey("revoked-bot");
    const other = await connect(b.server.url, revoked.key);
    expect(outcome(await call(other.client, "issue_refund", refund(103))).ok).toBe(true);
    const postsBeforeRevoke = refundPosts(sandbox).length;
    const revoke = await runCli([
      "keys",
      "revoke",
      revoked.id,
      "--home",
      a.home,
      "--database",
      url,
    ]);
    expect(revoke.code).toBe(0);
    await expect(call(other.client, "issue_refund", refund(104))).rejects.toThrow(/401|revoked/i);
    expect(refundPosts(sandbox).length).toBe(postsBeforeRevoke);
    expect(postsBeforeRevoke).toBe(postsBefore + 1);

    await Promise.all([agent.close(), operator.close()]);
    await Promise.all([a.server.stop(), b.server.stop()]);
    const books = await readBooks(a.home, url);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);

  it("an approval decided through host A lets the exact call through once on host B", async () => {
    const url = await freshPostgres();
    const [a, b] = await Promise.all([host(url), host(url)]);
    if (!a || !b) throw new Error("unreachable");
    const policy = policyFile(a.home, "support-refunds", { require_approval_over: 40 });
    const agentKey = await agentKeyOn(a.home, url, "careful-bot", policy);
    const operatorKey = await operatorKeyOn(a.home, url);
    const refund = { charge: CHARGE, amount: 4_500, reason: "requested_by_customer" };

    const agent = await connect(b.server.url, agentKey.key);
    const asked = outcome(await call(agent.client, "issue_refund", refund));
    if (asked.ok) throw new Error("expected approval_required");
    expect(asked.code).toBe("approval_required");
    const approvalId = /apr_[0-9a-f]{24}/.exec(asked.message)?.[0];
    const operator = await connect(a.server.url, operatorKey.key);
    expect(
      outcome(await call(operator.client, "approve", { approval_id: approvalId, note: "ok" })).ok,
    ).toBe(true);

    expect(outcome(await call(agent.client, "issue_refund", refund)).ok).toBe(true);
    const again = outcome(await call(agent.client, "issue_refund", refund));
    expect(again.ok && (again.data.spendguard as { replayed: boolean }).replayed).toBe(true);
    const other = outcome(await call(agent.client, "issue_refund", { ...refund, amount: 4_600 }));
    expect(other).toMatchObject({ ok: false, code: "approval_required" });
    const refunds = await refundsOn(adminClient(sandbox), CHARGE);
    expect(refunds.filter((r) => r.amount === 4_500)).toHaveLength(1);

    await Promise.all([agent.close(), operator.close()]);
    await Promise.all([a.server.stop(), b.server.stop()]);
  }, 120_000);

  it("a refund whose answer host A lost, before A died, is settled by host B: it moves once", async () => {
    const url = await freshPostgres();
    const a = await host(url);
    const key = await agentKeyOn(a.home, url, "lost-bot");
    const refund = { charge: CHARGE, amount: 2_345, reason: "duplicate" };

    const agent = await connect(a.server.url, key.key);
    // Every attempt is cut before Stripe applies it: nobody knows yet that nothing moved.
    sandbox.faults.add({ method: "POST", path: "/v1/refunds", kind: "reset", times: 3 });
    expect(outcome(await call(agent.client, "issue_refund", refund))).toMatchObject({
      ok: false,
      code: "outcome_unknown",
    });
    await a.server.stop("SIGKILL");
    const lost = (await readBooks(a.home, url)).admissions.filter((x) => x.agent === "lost-bot");
    expect(lost.map((x) => x.state)).toEqual(["unknown"]);

    // Another host serves the agent next: inside Stripe's key life it replays the write
    // with the same idempotency key, and Stripe, reachable again, applies it once.
    const b = await host(url);
    const back = await connect(b.server.url, key.key);
    expect(outcome(await call(back.client, "session_status")).ok).toBe(true);
    await back.close();
    await b.server.stop();

    const refunds = (await refundsOn(adminClient(sandbox), CHARGE)).filter(
      (r) => r.amount === refund.amount,
    );
    expect(refunds).toHaveLength(1);
    const books = await readBooks(b.home, url);
    const settled = books.admissions.filter((x) => x.agent === "lost-bot");
    expect(settled.map((x) => [x.state, x.amount_cap])).toEqual([["settled", refund.amount]]);
    expect(books.audit.filter((r) => r.rule === "reconcile").map((r) => r.outcome)).toEqual([
      "reconciled",
    ]);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);

  it("a host waiting on Stripe keeps its refund while it beats: another host leaves it past the heartbeat bound, then the first settles it once", async () => {
    const url = await freshPostgres();
    // A's Stripe answers once the bound has passed and B has looked again since; A waits.
    const watchMs = OWNER_SILENT_MS + HEARTBEAT_MS;
    const heldMs = watchMs + 2_000;
    const [a, b] = await Promise.all([
      host(url, { SPENDGUARD_STRIPE_TIMEOUT_MS: String(heldMs + 20_000) }),
      host(url),
    ]);
    const key = await agentKeyOn(a.home, url, "slow-bot");
    const refund = { charge: CHARGE, amount: 2_469, reason: "duplicate" };
    sandbox.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "latency",
      latencyMs: heldMs,
      afterApply: true,
      times: 1,
    });
    const agent = await connect(a.server.url, key.key);
    const posts = refundPosts(sandbox).length;
    const sent = Date.now();
    const answer = call(agent.client, "issue_refund", refund);
    await refundPosted(posts);

    // Host B serves the same agent meanwhile: it finds the refund in flight, owned by a
    // host that beats, and keeps looking at it, past the bound, without taking it over.
    const other = await connect(b.server.url, key.key);
    expect(outcome(await call(other.client, "session_status")).ok).toBe(true);
    const ledger = await openStore({ home: b.home, databaseUrl: url });
    try {
      while (Date.now() - sent < watchMs) {
        const open = await admissionsOf(ledger, "slow-bot");
        expect(open.map((x) => [x.state, x.owner_host])).toEqual([["reserved", a.id]]);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      await ledger.close();
    }
    expect(refundPosts(sandbox).length).toBe(posts + 1);
    const looks = b.server.logs("reconciliation done");
    expect(looks.length).toBeGreaterThanOrEqual(1);
    expect(looks[0]).toMatchObject({ reconciled: { checked: 0, inFlight: 1 } });

    // Stripe's answer reaches A: A settles its own write, once.
    expect(outcome(await answer).ok).toBe(true);
    await Promise.all([agent.close(), other.close()]);
    await Promise.all([a.server.stop(), b.server.stop()]);
    expect(refundPosts(sandbox).length).toBe(posts + 1);
    const refunds = (await refundsOn(adminClient(sandbox), CHARGE)).filter(
      (r) => r.amount === refund.amount,
    );
    expect(refunds).toHaveLength(1);
    const books = await readBooks(a.home, url);
    const settled = firstCalls(books.admissions).filter((x) => x.agent === "slow-bot");
    expect(settled.map((x) => [x.state, x.amount_cap, x.owner_host])).toEqual([
      ["settled", refund.amount, a.id],
    ]);
    expect(books.audit.filter((r) => r.rule === "reconcile")).toEqual([]);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);

  it("a host SIGKILLed with a refund in flight (applied at Stripe, no answer yet): another host takes it over once the dead host's heartbeat is stale, no money moves twice", async () => {
    const url = await freshPostgres();
    const [a, b] = await Promise.all([host(url), host(url)]);
    const key = await agentKeyOn(a.home, url, "inflight-bot");
    const refund = { charge: CHARGE, amount: 2_468, reason: "duplicate" };
    // Stripe applies the refund, then its answer never comes.
    sandbox.faults.add({
      method: "POST",
      path: "/v1/refunds",
      kind: "hang",
      afterApply: true,
      times: 1,
    });
    const agent = await connect(a.server.url, key.key);
    const posts = refundPosts(sandbox).length;
    // The agent's client learns of it by its own timeout; nothing waits for that.
    void call(agent.client, "issue_refund", refund).catch(() => undefined);
    await refundPosted(posts);
    // B serves the agent while A is alive: the refund is A's to finish.
    const back = await connect(b.server.url, key.key);
    expect(outcome(await call(back.client, "session_status")).ok).toBe(true);
    await a.server.stop("SIGKILL");
    const killed = Date.now();

    // A's last beat was at most one interval before it died; B looks every interval.
    const ledger = await openStore({ home: b.home, databaseUrl: url });
    let states: string[] = [];
    try {
      while (Date.now() - killed < OWNER_SILENT_MS + 4 * HEARTBEAT_MS) {
        states = (await admissionsOf(ledger, "inflight-bot")).map((x) => x.state);
        if (states[0] !== "reserved") break;
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      await ledger.close();
    }
    const tookMs = Date.now() - killed;
    expect(states).toEqual(["settled"]);
    expect(tookMs).toBeGreaterThan(OWNER_SILENT_MS - HEARTBEAT_MS - 1_000);
    expect(tookMs).toBeLessThan(OWNER_SILENT_MS + HEARTBEAT_MS + 3_000);
    await back.close();
    await b.server.stop();

    const refunds = (await refundsOn(adminClient(sandbox), CHARGE)).filter(
      (r) => r.amount === refund.amount,
    );
    expect(refunds).toHaveLength(1);
    expect(refundPosts(sandbox).length).toBe(posts + 2);
    const books = await readBooks(b.home, url);
    const settled = firstCalls(books.admissions).filter((x) => x.agent === "inflight-bot");
    expect(settled.map((x) => [x.state, x.amount_cap])).toEqual([["settled", refund.amount]]);
    expect(
      books.audit.filter((r) => r.rule === "reconcile" && r.agent === "inflight-bot"),
    ).toHaveLength(1);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);

  // A server of its own, so restarting it touches no other test.
  it.skipIf(!PG_BIN)(
    `PostgreSQL restarted mid-run: calls fail closed with store_unavailable, nothing is lost, service resumes, the chain verifies${PG_BIN ? "" : ` (skipped: ${NO_RESTART})`}`,
    async () => {
      const cluster = await startCluster(PG_BIN ?? "");
      try {
        const db = new PgDatabase(cluster.url);
        await migratePostgres(db);
        await db.close();
        const h = await host(cluster.url);
        const key = await agentKeyOn(h.home, cluster.url, "outage-bot");
        const agent = await connect(h.server.url, key.key);
        // Amounts no other test here refunds on CHARGE (the 4-host test's run 100–1,499).
        const refund = (amount: number) => ({ charge: CHARGE, amount, reason: "duplicate" });
        expect(outcome(await call(agent.client, "issue_refund", refund(3_111))).ok).toBe(true);

        cluster.stop();
        const posts = refundPosts(sandbox).length;
        // The request's key cannot be checked: a 503 that names the cause, nothing done.
        await expect(call(agent.client, "issue_refund", refund(3_112))).rejects.toThrow(
          /database cannot be reached right now, so nothing was done.*store_unavailable/,
        );
        expect(refundPosts(sandbox).length).toBe(posts);

        cluster.start();
        // The same server, the same session: its pool finds the database again by itself.
        expect(outcome(await call(agent.client, "issue_refund", refund(3_113))).ok).toBe(true);
        await agent.close();
        await h.server.stop();

        const amounts = (await refundsOn(adminClient(sandbox), CHARGE))
          .map((r) => r.amount)
          .filter((a) => a >= 3_111 && a <= 3_113)
          .sort();
        expect(amounts).toEqual([3_111, 3_113]);
        const books = await readBooks(h.home, cluster.url);
        expect(books.admissions.map((a) => [a.state, a.amount_cap])).toEqual([
          ["settled", 3_111],
          ["settled", 3_113],
        ]);
        expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
      } finally {
        cluster.destroy();
      }
    },
    120_000,
  );
});

describe("host identity", () => {
  it("a SPENDGUARD_HOST_ID that is not a bounded, printable name stops serve at start-up, saying why", async () => {
    const home = tempHome();
    homes.push(home);
    const run = await runCli(["serve", "--http", "--port", "0"], {
      SPENDGUARD_HOME: home.dir,
      SPENDGUARD_HOST_ID: "web 1\u001b[31m",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/SPENDGUARD_HOST_ID must be 1 to 64 letters, digits/);
    expect(run.stderr).not.toContain("\u001b");
    expect(run.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
