import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { LoadedPolicy } from "../policy/load.js";
import type { Store } from "../store/store.js";

/**
 * spendguard's Prometheus metrics. What the store holds (calls, denials, money, spend
 * against caps, approvals, unknown outcomes, alert deliveries) is read from the store at
 * each scrape, so every host on one store reports the same figures (aggregate them with
 * `max`, not `sum`). What only this process sees — Stripe latency, store errors, the
 * process itself — is counted here.
 */

export interface MetricsOptions {
  store: Store;
  /** Tool names a `tool` label may take; anything else (an unknown tool an agent made up) is `other`. */
  tools: readonly string[];
  /** The policy a session ran under, by its recorded hash (for its caps). */
  policyFor(hash: string): Promise<LoadedPolicy | undefined>;
  clock?: () => number;
}

/** Rows that record a decision about another call, not a call (as `spendguard report` counts). */
const NOT_CALLS = new Set(["reconcile", "approval"]);

export class Metrics {
  readonly registry = new Registry();
  private readonly storeErrors: Counter<"operation">;
  private readonly stripeLatency: Histogram<"outcome">;

  constructor(options: MetricsOptions) {
    const { store } = options;
    const clock = options.clock ?? Date.now;
    const registers = [this.registry];
    const known = new Set(options.tools);
    const toolLabel = (tool: string) => (known.has(tool) ? tool : "other");

    new Counter({
      name: "spendguard_tool_calls_total",
      help: "Tool calls recorded in the audit, by tool and decision (allow, deny, error).",
      labelNames: ["tool", "decision"],
      registers,
      async collect() {
        const rows = await store.auditTotals();
        this.reset();
        for (const row of rows) {
          if (NOT_CALLS.has(row.rule ?? "")) continue;
          this.inc({ tool: toolLabel(row.tool), decision: row.decision }, row.count);
        }
      },
    });
    new Counter({
      name: "spendguard_denials_total",
      help: "Calls the guard refused, by the rule that decided and the denial code.",
      labelNames: ["rule", "code"],
      registers,
      async collect() {
        const rows = await store.auditTotals();
        this.reset();
        for (const row of rows) {
          if (row.decision !== "deny" || NOT_CALLS.has(row.rule ?? "")) continue;
          this.inc({ rule: row.rule ?? "none", code: row.code ?? "none" }, row.count);
        }
      },
    });
    new Counter({
      name: "spendguard_money_moved_minor_units_total",
      help: "Money Stripe confirmed moving (refunds, captures, payments), by agent and currency, in the currency's minor unit.",
      labelNames: ["agent", "currency"],
      registers,
      async collect() {
        const rows = await store.moneyTotals();
        this.reset();
        for (const row of rows) {
          this.inc({ agent: row.agent, currency: row.currency }, row.amount);
        }
      },
    });
    new Counter({
      name: "spendguard_money_moved_cap_minor_units_total",
      help: "The same money in the cap currency of the agent's policy, in its minor unit.",
      labelNames: ["agent", "cap_currency"],
      registers,
      async collect() {
        const rows = await store.moneyTotals();
        this.reset();
        for (const row of rows) {
          if (row.cap_currency === null) continue;
          this.inc({ agent: row.agent, cap_currency: row.cap_currency }, row.amount_cap);
        }
      },
    });
    new Gauge({
      name: "spendguard_session_cap_utilization_ratio",
      help: "Spend counted in each active session (settled + reserved + unknown) over its per-session cap.",
      labelNames: ["session", "agent"],
      registers,
      async collect() {
        const ratios: [{ session: string; agent: string }, number][] = [];
        for (const session of await store.sessionSummaries({ state: "active" })) {
          const cap = (await options.policyFor(session.policy_hash))?.caps.perSession ?? null;
          if (cap === null || cap === 0) continue;
          ratios.push([{ session: session.id, agent: session.agent }, session.spent / cap]);
        }
        this.reset();
        for (const [labels, ratio] of ratios) this.set(labels, ratio);
      },
    });
    new Gauge({
      name: "spendguard_agent_day_cap_utilization_ratio",
      help: "Spend of each agent with an active session in the rolling 24 h over its per-day cap.",
      labelNames: ["agent"],
      registers,
      async collect() {
        const now = clock();
        const agents = new Map<string, string>();
        for (const session of await store.listSessions({ state: "active" })) {
          agents.set(session.agent, session.policy_hash);
        }
        const ratios: [string, number][] = [];
        for (const [agent, hash] of agents) {
          const cap = (await options.policyFor(hash))?.caps.perDay ?? null;
          if (cap === null || cap === 0) continue;
          const usage = await store.usage({
            session: "",
            agent,
            tool: "",
            customer: null,
            at: now,
          });
          ratios.push([agent, usage.daySpend / cap]);
        }
        this.reset();
        for (const [agent, ratio] of ratios) this.set({ agent }, ratio);
      },
    });
    new Gauge({
      name: "spendguard_approvals_pending",
      help: "Approval requests waiting for a person (not expired, session still active).",
      registers,
      async collect() {
        const now = clock();
        this.set(
          (await store.listApprovals({ states: ["pending"], openAt: now, liveSession: true }))
            .length,
        );
      },
    });
    new Gauge({
      name: "spendguard_unknown_admissions",
      help: "Money-moving calls whose outcome is unknown: they count against the caps until confirmed.",
      registers,
      async collect() {
        this.set((await store.listAdmissions({ states: ["unknown"] })).length);
      },
    });
    new Gauge({
      name: "spendguard_agents_paused",
      help: "Agents an alert rule paused that no operator has resumed yet.",
      registers,
      async collect() {
        this.set((await store.listAgentHolds({ open: true })).length);
      },
    });
    new Gauge({
      name: "spendguard_alert_deliveries",
      help: "Alert deliveries in the outbox, by sink and status (pending, delivered, failed).",
      labelNames: ["sink", "status"],
      registers,
      async collect() {
        const rows = await store.alertDeliveryCounts();
        this.reset();
        for (const row of rows) {
          this.set({ sink: row.sink, status: row.state }, row.count);
        }
      },
    });
    this.stripeLatency = new Histogram({
      name: "spendguard_stripe_request_duration_seconds",
      help: "Time of each HTTP request to Stripe made by this process, by outcome.",
      labelNames: ["outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers,
    });
    this.storeErrors = new Counter({
      name: "spendguard_store_errors_total",
      help: "Store operations that failed in this process, by operation.",
      labelNames: ["operation"],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: "spendguard_" });
  }

  /** The observed store's failure report. */
  storeError(operation: string): void {
    this.storeErrors.inc({ operation });
  }

  /** One HTTP request to Stripe: its time, and its status (`null`: no answer). */
  stripeRequest(durationMs: number, status: number | null): void {
    this.stripeLatency.observe({ outcome: stripeOutcome(status) }, durationMs / 1000);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function stripeOutcome(status: number | null): string {
  if (status === null) return "network_error";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  if (status >= 400) return "client_error";
  return "ok";
}
