import { createHash } from "node:crypto";
import { formatMoney, majorToMinor } from "../money/currency.js";
import type { AgentActivity } from "../store/store.js";
import type { AlertRule, VelocityRule } from "./config.js";
import type { AlertEvent } from "./events.js";

/** Whether `rule` is about `event`: its kind, and the agent and tool filters if given. */
export function ruleMatches(rule: AlertRule, event: AlertEvent): boolean {
  if (rule.on !== event.type) return false;
  if (rule.agents && (event.agent === null || !rule.agents.includes(event.agent))) return false;
  if (rule.tools && (event.tool === null || !rule.tools.includes(event.tool))) return false;
  return true;
}

/** The same alert id wherever and however often the event is evaluated. */
export function alertId(rule: string, eventKey: string): string {
  return `alr_${createHash("sha256").update(`${rule}\u0000${eventKey}`).digest("hex").slice(0, 24)}`;
}

/** Deliveries of one rule to one sink about one agent are a cool-down apart. */
export function cooldownKey(rule: string, sink: string, agent: string | null): string {
  return `${rule}|${sink}|${agent ?? "*"}`;
}

/** What tripped a velocity rule, or `undefined` if its agent stayed under it. */
export function velocityBreach(
  rule: VelocityRule,
  activity: AgentActivity,
  capCurrency: string,
): string | undefined {
  const calls = rule.maxCalls !== null && activity.money_calls >= rule.maxCalls;
  const limit = rule.maxAmount === null ? null : majorToMinor(rule.maxAmount, capCurrency);
  const amount = limit !== null && activity.amount_cap >= limit;
  if (!calls && !amount) return undefined;
  const moved = formatMoney(activity.amount_cap, capCurrency);
  const over = [
    calls ? `max_calls ${rule.maxCalls}` : undefined,
    amount && limit !== null ? `max_amount ${formatMoney(limit, capCurrency)}` : undefined,
  ].filter(Boolean);
  return `${activity.money_calls} money-moving call(s) moving ${moved} within ${rule.window} (${rule.id}: ${over.join(", ")})`;
}
