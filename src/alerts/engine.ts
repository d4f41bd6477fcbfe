import { operatorEntry } from "../audit/operator-entry.js";
import type { AuditRecord } from "../audit/record.js";
import type { Logger } from "../logger.js";
import type { AlertCursor, Store } from "../store/store.js";
import type { AlertRule, AlertsConfig, Sink, VelocityRule } from "./config.js";
import {
  type AlertEvent,
  auditEvent,
  isMoneyMovingCall,
  killEvents,
  unresolvedEvent,
} from "./events.js";
import { type Alert, jsonBody, slackBody } from "./payload.js";
import { alertId, cooldownKey, ruleMatches, velocityBreach } from "./rules.js";

/**
 * Evaluates the rules against what the store records: audit rows (refusals by a cap,
 * approval requests, unknown outcomes, and the money-moving calls velocity counts), kills
 * in the sessions table, and admissions left unknown. Every process on the store may run
 * one; an alert's id comes from its rule and event, so the outbox takes it once however
 * many processes see the event. A velocity rule's pause is a store transaction that
 * happens once too.
 */

/** `killed_by` of the sessions a pause kills; their kill is reported by the velocity alert. */
export const PAUSED_BY = "auto-pause";
/** The `tool` of a pause's audit row (the operator's `resume_agent` undoes it). */
export const PAUSE_TOOL = "pause_agent";
/** An admission still unknown after this long is reported (once). */
export const UNRESOLVED_AFTER_MS = 15 * 60_000;
/** Kills are read again this far back, for hosts whose clocks lag. */
const KILL_OVERLAP_MS = 60_000;
/** At start, audit rows further back than this are not evaluated. */
const MAX_BACKLOG = 10_000;
const MAX_SUMMARY = 500;

export interface AlertEngineOptions {
  config: AlertsConfig;
  store: Store;
  clock: () => number;
  logger: Logger;
  /** `ops_…`: the session automatic pauses are audited under. */
  session: string;
}

export class AlertEngine {
  private readonly sinks: ReadonlyMap<string, Sink>;
  private readonly velocityRules: readonly VelocityRule[];
  private auditSeq = 0;
  private killedAt = 0;
  /** Kills already evaluated, with when they happened, within the overlap. */
  private readonly seenKills = new Map<string, number>();

  /** An engine that starts where the shared cursor says (or, on a new store, from now). */
  static async open(options: AlertEngineOptions): Promise<AlertEngine> {
    const head = (await options.store.auditHead())?.seq ?? 0;
    return new AlertEngine(options, head, await options.store.alertCursor());
  }

  private constructor(
    private readonly options: AlertEngineOptions,
    head: number,
    cursor: AlertCursor | undefined,
  ) {
    this.sinks = new Map(options.config.sinks.map((sink) => [sink.name, sink]));
    this.velocityRules = options.config.rules.filter(
      (rule): rule is VelocityRule => rule.on === "velocity",
    );
    const { clock, logger } = options;
    // A new store starts from now: history written before alerts were set up sends nothing.
    this.auditSeq = cursor ? Math.min(cursor.audit_seq, head) : head;
    if (head - this.auditSeq > MAX_BACKLOG) {
      logger.warn(
        { from: this.auditSeq, head, skipped: head - this.auditSeq - MAX_BACKLOG },
        "alerts: too many audit rows since the last evaluation; evaluating only the latest",
      );
      this.auditSeq = head - MAX_BACKLOG;
    }
    this.killedAt = cursor?.killed_at ?? clock();
  }

  /** Evaluates the audit rows written since the last pass; returns how many deliveries it queued. */
  async evaluateAudit(): Promise<number> {
    const rows = await this.options.store.queryAudit({ afterSeq: this.auditSeq });
    let queued = 0;
    for (const row of rows) {
      this.auditSeq = row.seq;
      const event = auditEvent(row);
      if (event) queued += await this.fire(event);
      if (isMoneyMovingCall(row)) queued += await this.checkVelocity(row);
    }
    return queued;
  }

  /** Kills since the last sweep, admissions left unknown, and the shared cursor. */
  async sweep(): Promise<number> {
    const { store, clock } = this.options;
    const now = clock();
    let queued = 0;
    const fresh = (
      await store.sessionsKilledSince(Math.max(0, this.killedAt - KILL_OVERLAP_MS), 1_000)
    ).filter((session) => !this.seenKills.has(session.id));
    for (const session of fresh) {
      const at = session.state_changed_at ?? now;
      this.seenKills.set(session.id, at);
      this.killedAt = Math.max(this.killedAt, at);
    }
    for (const [id, at] of this.seenKills) {
      if (at < this.killedAt - 2 * KILL_OVERLAP_MS) this.seenKills.delete(id);
    }
    for (const event of killEvents(fresh, PAUSED_BY)) queued += await this.fire(event);

    if (this.options.config.rules.some((rule) => rule.on === "unknown_outcome")) {
      for (const admission of await store.listAdmissions({ states: ["unknown"] })) {
        if (admission.created_at > now - UNRESOLVED_AFTER_MS) continue;
        queued += await this.fire(unresolvedEvent(admission, null));
      }
    }
    await store.advanceAlertCursor({ audit_seq: this.auditSeq, killed_at: this.killedAt });
    return queued;
  }

  /** Queues the event for every rule about it (velocity rules are checked apart). */
  private async fire(event: AlertEvent): Promise<number> {
    let queued = 0;
    for (const rule of this.options.config.rules) {
      if (rule.on !== "velocity" && ruleMatches(rule, event)) {
        queued += await this.enqueue(rule, event);
      }
    }
    return queued;
  }

  private async checkVelocity(row: AuditRecord): Promise<number> {
    const { store, clock } = this.options;
    const at = Date.parse(row.at);
    let queued = 0;
    for (const rule of this.velocityRules) {
      if (rule.agents && !rule.agents.includes(row.agent)) continue;
      if (rule.tools && !rule.tools.includes(row.tool)) continue;
      const hold = await store.agentHold(row.agent);
      if (rule.action === "pause" && hold && hold.released_at === null) continue;
      // After a resume, only calls made since count: the burst that paused it is forgiven.
      const resumedAt = hold?.released_at ?? 0;
      if (at <= resumedAt) continue;
      const since = Math.max(at - rule.windowMs, resumedAt);
      const activity = await store.agentActivity(row.agent, rule.tools, since, at);
      const breach = velocityBreach(rule, activity, row.cap_currency ?? "usd");
      if (!breach) continue;
      const event: AlertEvent = {
        type: "velocity",
        key: `velocity:${row.hash}`,
        at,
        agent: row.agent,
        tool: row.tool,
        summary: `${row.agent}: ${breach}`,
        details: {
          audit_seq: row.seq,
          session: row.session,
          tool: row.tool,
          calls: activity.money_calls,
          amount_cap: activity.amount_cap,
          cap_currency: row.cap_currency,
          window: rule.window,
        },
      };
      if (rule.action === "alert") {
        queued += await this.enqueue(rule, event, "alert");
        continue;
      }
      const reason = `auto-pause: ${breach}`;
      const now = clock();
      const result = await store.holdAgent(
        { agent: row.agent, at: now, by: PAUSED_BY, reason },
        (killed) =>
          operatorEntry({
            at: now,
            session: this.options.session,
            operator: `operator:${PAUSED_BY}`,
            tool: PAUSE_TOOL,
            args: { agent: row.agent, rule: rule.id },
            decision: "allow",
            outcome: "ok",
            code: null,
            reason: `Paused agent ${row.agent} (${reason}); killed ${killed.length} session(s)${killed.length ? `: ${killed.join(", ")}` : ""}. It stays paused until an operator resumes it.`,
            durationMs: 0,
          }),
      );
      // Another process paused it first, and alerts about it.
      if (!result.held) continue;
      this.options.logger.warn(
        { agent: row.agent, rule: rule.id, killed: result.killed },
        "alerts: agent paused",
      );
      const paused: AlertEvent = {
        ...event,
        summary: `${row.agent} paused: ${breach}. ${result.killed.length} session(s) killed; every new session is refused until \`spendguard resume --agent ${row.agent}\``,
        details: { ...event.details, sessions: result.killed.join(" "), reason },
      };
      // A pause is always told, whatever the cool-down.
      queued += await this.enqueue(rule, paused, "pause", 0);
    }
    return queued;
  }

  private async enqueue(
    rule: AlertRule,
    event: AlertEvent,
    action?: Alert["action"],
    cooldownMs = rule.cooldownMs,
  ): Promise<number> {
    const { store, clock } = this.options;
    const alert: Alert = {
      id: alertId(rule.id, event.key),
      rule: rule.id,
      event,
      ...(action ? { action } : {}),
    };
    let queued = 0;
    for (const name of rule.sinks) {
      const sink = this.sinks.get(name);
      if (!sink) continue;
      const delivery = await store.enqueueAlert(
        {
          alert: alert.id,
          sink: sink.name,
          type: event.type,
          rule: rule.id,
          agent: event.agent,
          cooldown_key: cooldownKey(rule.id, sink.name, event.agent),
          event_at: event.at,
          summary: event.summary.slice(0, MAX_SUMMARY),
          body: sink.format === "slack" ? slackBody(alert) : jsonBody(alert),
          created_at: clock(),
        },
        cooldownMs,
      );
      if (delivery) queued++;
    }
    return queued;
  }
}
