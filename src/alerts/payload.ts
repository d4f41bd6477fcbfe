import { formatMoney } from "../money/currency.js";
import type { AlertEvent, EventDetails } from "./events.js";

/**
 * The bodies a sink receives: `json` (the event as data) or `slack` (an incoming-webhook
 * message a channel shows as text). Both carry ids, amounts, codes and reasons as the
 * audit has them (redacted, bounded) and nothing else; in Slack every text is escaped so
 * that nothing in it can mention a channel or make a link.
 */

export interface Alert {
  /** `alr_…` */
  id: string;
  /** `rules[0]`, or `test`. */
  rule: string;
  event: AlertEvent;
  /** For a velocity rule: what it did (`alert` or `pause`). */
  action?: "alert" | "pause";
}

const TITLES: Record<AlertEvent["type"], string> = {
  cap_denied: "cap denied",
  kill: "session killed",
  approval_requested: "approval requested",
  unknown_outcome: "unknown outcome",
  store_unavailable: "store unavailable",
  velocity: "velocity",
  test: "test",
};

export function jsonBody(alert: Alert): string {
  const { event } = alert;
  return JSON.stringify({
    id: alert.id,
    type: event.type,
    created: new Date(event.at).toISOString(),
    rule: alert.rule,
    ...(alert.action ? { action: alert.action } : {}),
    agent: event.agent,
    summary: event.summary,
    data: event.details,
  });
}

/** Slack's limits: a section's text, a header's text, a field's text. */
const SECTION_MAX = 3_000;
const HEADER_MAX = 150;
const FIELD_MAX = 2_000;
const FIELDS_MAX = 10;

interface MrkdwnText {
  type: "mrkdwn";
  text: string;
}

/** The parts of Block Kit these messages use. */
export type SlackBlock =
  | { type: "header"; text: { type: "plain_text"; text: string } }
  | { type: "section"; text: MrkdwnText }
  | { type: "section"; fields: MrkdwnText[] }
  | { type: "context"; elements: MrkdwnText[] };

export interface SlackMessage {
  /** The notification text (and what clients without blocks show). */
  text: string;
  blocks: SlackBlock[];
}

export function slackBody(alert: Alert): string {
  return JSON.stringify(slackMessage(alert));
}

export function slackMessage(alert: Alert): SlackMessage {
  const { event } = alert;
  const title = `spendguard: ${TITLES[event.type]}${alert.action === "pause" ? " (agent paused)" : ""}`;
  const fields = fieldsOf(event).slice(0, FIELDS_MAX);
  const reason = typeof event.details.reason === "string" ? event.details.reason : null;
  const context = [
    alert.id,
    alert.rule,
    typeof event.details.audit_seq === "number" ? `audit #${event.details.audit_seq}` : null,
    new Date(event.at).toISOString(),
  ].filter((part) => part !== null);
  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: bounded(title, HEADER_MAX) } },
    { type: "section", text: mrkdwn(escapeSlack(event.summary), SECTION_MAX) },
  ];
  if (fields.length > 0) blocks.push({ type: "section", fields });
  if (reason) {
    blocks.push({ type: "section", text: mrkdwn(`*Reason*\n${escapeSlack(reason)}`, SECTION_MAX) });
  }
  blocks.push({ type: "context", elements: [mrkdwn(escapeSlack(context.join(" · ")), FIELD_MAX)] });
  return { text: bounded(`${title}: ${escapeSlack(event.summary)}`, SECTION_MAX), blocks };
}

/** Slack reads `&`, `<` and `>` as markup (`<!channel>`, `<url|text>`): they are escaped. */
export function escapeSlack(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function mrkdwn(text: string, max: number): MrkdwnText {
  return { type: "mrkdwn", text: bounded(text, max) };
}

/** Cut to `max` characters without splitting an escape such as `&amp;`. */
function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1).replace(/&[a-z]{0,4}$/, "");
  return `${cut}…`;
}

const FIELD_NAMES: readonly [keyof EventDetails & string, string][] = [
  ["session", "Session"],
  ["tool", "Tool"],
  ["code", "Code"],
  ["rule", "Rule"],
  ["customer", "Customer"],
  ["approval", "Approval"],
  ["admission", "Admission"],
  ["sessions", "Sessions"],
  ["killed_by", "Killed by"],
  ["stripe_request_id", "Stripe request"],
];

function fieldsOf(event: AlertEvent): MrkdwnText[] {
  const fields: MrkdwnText[] = [];
  if (event.agent) fields.push(field("Agent", event.agent));
  const { amount, currency, amount_cap, cap_currency } = event.details;
  if (typeof amount === "number" && typeof currency === "string") {
    const own = formatMoney(amount, currency);
    const cap =
      typeof amount_cap === "number" &&
      typeof cap_currency === "string" &&
      cap_currency !== currency
        ? ` (≈ ${formatMoney(amount_cap, cap_currency)})`
        : "";
    fields.push(field("Amount", `${own}${cap}`));
  }
  for (const [key, label] of FIELD_NAMES) {
    const value = event.details[key];
    if (value !== null && value !== undefined && value !== "")
      fields.push(field(label, String(value)));
  }
  return fields;
}

function field(label: string, value: string): MrkdwnText {
  return mrkdwn(`*${label}*\n${escapeSlack(value)}`, FIELD_MAX);
}
