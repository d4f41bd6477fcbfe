import { z } from "zod";
import { parseDuration } from "../../policy/load.js";
import { buildView } from "../report-view.js";
import { defineOperatorTool, OperatorError, READ_ONLY } from "../tool.js";

const moneyView = z.object({
  cap_currency: z.string().nullable(),
  money_calls: z.number().int(),
  moved: z.number().int().describe("Confirmed by Stripe."),
  unconfirmed: z.number().int().describe("Reserved or unknown: still counted against caps."),
  reserved: z.number().int(),
  unknown: z.number().int(),
  revenue_at_risk: z.number().int().describe("Monthly revenue put at risk by cancellations."),
});

const counts = {
  calls: z.number().int(),
  ok: z.number().int(),
  replayed: z.number().int(),
  denied: z.number().int(),
  errors: z.number().int(),
  money: z.array(moneyView),
  denials: z.array(
    z.object({ rule: z.string().nullable(), code: z.string().nullable(), count: z.number().int() }),
  ),
};

const GROUPINGS = ["agent", "session", "tool", "day", "customer"] as const;

export const spendSummary = defineOperatorTool({
  name: "spend_summary",
  title: "Spend and calls over a period",
  description:
    "What the agents did over a period and what it cost, grouped by agent, session, tool, UTC day or customer: calls, allowed, denied (with the rules that denied), errors, money moved as Stripe confirmed it, money still unconfirmed, and monthly revenue put at risk by cancellations. Money is in integers of each row's cap currency's smallest unit. The same data as `spendguard report --json`. Changes nothing.",
  input: z
    .object({
      since: z
        .string()
        .default("24h")
        .describe("Start of the period: a duration back from now (30m, 24h, 7d) or an ISO date."),
      by: z.enum(GROUPINGS).default("agent").describe("How to group."),
      agent: z.string().min(1).max(64).optional().describe("Only this agent."),
    })
    .strict(),
  output: z.object({
    since: z.string(),
    until: z.string().nullable(),
    by: z.enum(GROUPINGS),
    filters: z.object({ agent: z.string().nullable(), session: z.string().nullable() }),
    groups: z.array(z.object({ key: z.string().nullable(), ...counts })),
    totals: z.object(counts),
  }),
  annotations: READ_ONLY,
  async handle(ctx, args) {
    const since = sinceOf(args.since, ctx.now);
    const report = await ctx.store.report({
      since,
      by: args.by,
      ...(args.agent === undefined ? {} : { agent: args.agent }),
    });
    const view = buildView(report, {
      since,
      until: undefined,
      by: args.by,
      agent: args.agent ?? null,
      session: null,
    });
    const moved = view.totals.money
      .map((m) => `${m.moved} ${m.cap_currency ?? "(minor units)"}`)
      .join(" + ");
    return {
      output: view,
      text: `Since ${view.since}: ${view.totals.calls} call(s), ${view.totals.denied} denied, ${view.totals.errors} error(s) in ${view.groups.length} group(s) by ${args.by}; moved ${moved || "nothing"} (minor units).`,
    };
  },
});

/** `24h` back from now, or an ISO date/time; anything else is invalid input. */
function sinceOf(text: string, now: number): number {
  if (/^\d+[smhd]$/.test(text)) return now - parseDuration(text);
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new OperatorError(
      "invalid_input",
      `since must be a duration (30m, 24h, 7d) or an ISO date (2025-06-01), got '${text}'`,
    );
  }
  return at;
}
