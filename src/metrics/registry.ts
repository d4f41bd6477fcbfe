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
  policyFor(hash: string): LoadedPolicy | undefined;
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
      collect() {
        this.reset();
        for (const row of store.auditTotals()) {
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
      collect() {
        this.reset();
        for (const row of store.auditTotals()) {
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
      collect() {
        this.reset();
        for (const row of store.moneyTotals()) {
          this.inc({ agent: row.agent, currency: row.currency }, row.amount);
        }
      },
    });
    new Counter({
      name: "spendguard_money_moved_cap_minor_units_total",
      help: "The same money in the cap currency of the agent's policy, in its minor unit.",
      labelNames: ["agent", "cap_currency"],
      registers,
      collect() {
        this.reset();
        for (const row of store.moneyTotals()) {
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
      collect() {
        this.reset();
        for (const session of store.sessionSummaries({ state: "active" })) {
          const cap = options.policyFor(session.policy_hash)?.caps.perSession ?? null;
          if (cap === null || cap === 0) continue;
          this.set({ session: session.id, agent: session.agent }, session.spent / cap);
        }
      },
    });
    new Gauge({
      name: "spendguard_agent_day_cap_utilization_ratio",
      help: "Spend of each agent with an active session in the rolling 24 h over its per-day cap.",
      labelNames: ["agent"],
      registers,
      collect() {
        this.reset();
        const now = clock();
        const agents = new Map<string, string>();
        for (const session of store.listSessions({ state: "active" })) {
          agents.set(session.agent, session.policy_hash);
        }
        for (const [agent, hash] of agents) {
          const cap = options.policyFor(hash)?.caps.perDay ?? null;
          if (cap === null || cap === 0) continue;
          const usage = store.usage({ session: "", agent, tool: "", customer: null, at: now });
          this.set({ agent }, usage.daySpend / cap);
        }
      },
    });
    new Gauge({
      name: "spendguard_approvals_pending",
      help: "Approval requests waiting for a person (not expired, session still active).",
      registers,
      collect() {
        const now = clock();
        this.set(
          store.listApprovals({ states: ["pending"], openAt: now, liveSession: true }).length,
        );
      },
    });
    new Gauge({
      name: "spendguard_unknown_admissions",
      help: "Money-moving calls whose outcome is unknown: they count against the caps until confirmed.",
      registers,
      collect() {
        this.set(store.listAdmissions({ states: ["unknown"] }).length);
      },
    });
    new Gauge({
      name: "spendguard_agents_paused",
      help: "Agents an alert rule paused that no operator has resumed yet.",
      registers,
      collect() {
        this.set(store.listAgentHolds({ open: true }).length);
      },
    });
    new Gauge({
      name: "spendguard_alert_deliveries",
      help: "Alert deliveries in the outbox, by sink and status (pending, delivered, failed).",
      labelNames: ["sink", "status"],
      registers,
      collect() {
        this.reset();
        for (const row of store.alertDeliveryCounts()) {
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
