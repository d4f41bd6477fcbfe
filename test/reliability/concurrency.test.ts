import type { Client } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { call, connectStdio, errorOf, okOf, tempHome } from "../e2e/harness.js";
import { connect, createKey, type HttpServer, startHttpServer } from "../http/harness.js";
import { adminClient, readBooks, refundPolicy, refundsOn } from "./harness.js";

/**
 * Many server processes on one SPENDGUARD_HOME, stdio and HTTP mixed, each firing its
 * refunds all at once at one agent's daily cap. The money Stripe moved must stay within the cap and agree, to
 * the cent, with what the agents were told, the ledger and the audit.
 */

const STDIO_SERVERS = 5;
const HTTP_SERVERS = 3;
const SERVERS = STDIO_SERVERS + HTTP_SERVERS;
const CALLS_EACH = 50;
/** The one agent every server spends for: stdio by --agent, HTTP by its key. */
const AGENT = "refund-bot";
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
  it(`${STDIO_SERVERS} stdio + ${HTTP_SERVERS} HTTP servers × ${CALLS_EACH} parallel refunds: Stripe ≤ cap = ledger = audit`, async () => {
    const policy = refundPolicy(home.dir, { per_call: 100, per_day: CAP_DOLLARS });
    const stripeKey = sandbox.keys.roles["support-refunds"];
    const stdio = await Promise.all(
      Array.from({ length: STDIO_SERVERS }, () =>
        connectStdio({
          policy,
          home: home.dir,
          sandbox,
          key: stripeKey,
          args: ["--agent", AGENT],
        }),
      ),
    );
    const { key } = await createKey(home.dir, ["--agent", AGENT, "--policy", policy]);
    const httpServers: HttpServer[] = await Promise.all(
      Array.from({ length: HTTP_SERVERS }, () =>
        startHttpServer({
          home: home.dir,
          env: { STRIPE_API_KEY: stripeKey, SPENDGUARD_STRIPE_BASE_URL: sandbox.url },
          // The per-key request rate is not what this test is about.
          args: ["--rate-limit", "1000"],
        }),
      ),
    );
    const http = await Promise.all(httpServers.map((server) => connect(server.url, key)));
    const servers: { client: Client; close(): Promise<void> }[] = [...stdio, ...http];

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
    await Promise.all(httpServers.map((server) => server.stop()));

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

    const books = await readBooks(home.dir);
    expect(new Set(books.admissions.map((a) => a.agent))).toEqual(new Set([AGENT]));
    expect(new Set(books.admissions.map((a) => a.state))).toEqual(new Set(["settled"]));
    expect(books.admissions.reduce((sum, a) => sum + a.amount_cap, 0)).toBe(stripeCents);
    const allowed = books.audit.filter((r) => r.tool === "issue_refund" && r.outcome === "ok");
    expect(allowed.reduce((sum, r) => sum + (r.amount_cap ?? 0), 0)).toBe(stripeCents);
    expect(books.audit.filter((r) => r.tool === "issue_refund")).toHaveLength(SERVERS * CALLS_EACH);
    expect(books.chain).toEqual({ ok: true, rows: books.audit.length });
  }, 120_000);
});
