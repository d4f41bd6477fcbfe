import { connect, createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import Stripe from "stripe";
import { verifyAudit } from "../../src/audit/chain.js";
import type { Sandbox } from "../../src/sandbox/index.js";
import { DEMO } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { Admission, AuditRecord } from "../../src/store/store.js";
import { TOOLS } from "../../tools/index.js";
import { policyFile } from "../e2e/harness.js";

/**
 * What the reliability suites share: the truth on each side (the sandbox's refunds, the
 * ledger, the audit), a Stripe that can be switched off and on again without losing its
 * state, and a refund policy whose only limits are the caps each test states.
 */

export function adminClient(sandbox: Sandbox): Stripe {
  return new Stripe(sandbox.keys.admin, {
    host: "127.0.0.1",
    port: sandbox.port,
    protocol: "http",
    telemetry: false,
  });
}

/** The refunds the sandbox holds on one charge (the money that really moved). */
export async function refundsOn(admin: Stripe, charge: string): Promise<Stripe.Refund[]> {
  const refunds: Stripe.Refund[] = [];
  for await (const refund of admin.refunds.list({ charge, limit: 100 })) refunds.push(refund);
  return refunds;
}

/** Admissions that reserve money, leaving out those that only count a repeat as a call. */
export function firstCalls(admissions: readonly Admission[]): Admission[] {
  return admissions.filter((admission) => admission.repeat_of === null);
}

export interface Books {
  admissions: Admission[];
  audit: AuditRecord[];
  chain: Awaited<ReturnType<typeof verifyAudit>>;
}

/** The ledger, the audit and whether its chain verifies, read from a data directory. */
export async function readBooks(home: string): Promise<Books> {
  const store = openSqliteStore(home);
  try {
    return {
      admissions: await store.listAdmissions({}),
      audit: await store.queryAudit({}),
      chain: await verifyAudit(store),
    };
  } finally {
    await store.close();
  }
}

/** Requests to create a refund that reached the sandbox, in arrival order. */
export function refundPosts(sandbox: Sandbox) {
  return sandbox.requests.filter((r) => r.method === "POST" && r.path === "/v1/refunds");
}

/**
 * support-refunds with its parameter rules and call limits lifted: only the given caps
 * (USD, major units) can stop a refund, so each test states what it exercises.
 */
export function refundPolicy(dir: string, caps: Record<string, number>): string {
  return policyFile(dir, "support-refunds", {
    tools: {
      lookup_charge: null,
      lookup_refund: null,
      issue_refund: { calls_per_session: 1_000, calls_per_hour: 100_000 },
    },
    limits: { calls_per_session: 10_000, calls_per_hour: 100_000 },
    caps: { currency: "usd", ...caps },
  });
}

/** One valid call of every Stripe tool, on demo objects it may act on. */
export const STRIPE_TOOL_CALLS: Readonly<Record<string, Record<string, unknown>>> = {
  lookup_charge: { charge: DEMO.charges.acmeLarge },
  list_charges: { customer: DEMO.customers.acmeJane },
  lookup_customer: { customer: DEMO.customers.acmeJane },
  find_customer: { email: "jane.doe@acme.example" },
  lookup_payment_intent: { payment_intent: DEMO.paymentIntents.acmeSucceeded },
  lookup_subscription: { subscription: DEMO.subscriptions.acmeJaneMonthly },
  list_subscriptions: { customer: DEMO.customers.acmeJane },
  lookup_invoice: { invoice: DEMO.invoices.acmeOpen },
  list_invoices: { customer: DEMO.customers.acmeJane },
  lookup_refund: { refund: DEMO.refunds.acmePartial },
  list_disputes: {},
  get_balance: {},
  issue_refund: { charge: DEMO.charges.acmeLarge, amount: 2_000, reason: "duplicate" },
  cancel_subscription: { subscription: DEMO.subscriptions.acmeJaneMonthly },
  capture_payment_intent: { payment_intent: DEMO.paymentIntents.acmeRequiresCapture },
  pay_invoice: { invoice: DEMO.invoices.acmeOpen },
  submit_dispute_evidence: {
    dispute: DEMO.disputes.acmeNeedsResponse,
    evidence: { uncategorized_text: "The customer used the service all month." },
    submit: false,
  },
};

/** Every tool spendguard has, for every customer, under the given caps (USD, major units). */
export function everyToolPolicy(dir: string, caps: Record<string, number>): string {
  const stripeTools = TOOLS.filter((tool) => tool.kind !== "session").map((tool) => tool.name);
  return policyFile(dir, "support-refunds", {
    name: "every-tool",
    tools: Object.fromEntries(stripeTools.map((name) => [name, null])),
    limits: { calls_per_session: 10_000, calls_per_hour: 100_000 },
    caps: { currency: "usd", ...caps },
    customers: "all",
  });
}

export async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A TCP relay in front of the sandbox. `down()` closes it (new connections are refused,
 * open ones cut) and `up()` listens again on the same port: Stripe "goes away and comes
 * back" with every object it held.
 */
export class StripeRelay {
  readonly url: string;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly target: number,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(sandbox: Sandbox): Promise<StripeRelay> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const relay = new StripeRelay(sandbox.port, port);
    await relay.up();
    return relay;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        // One side failing ends both, as a broken network path would.
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
