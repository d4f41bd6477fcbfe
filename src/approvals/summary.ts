import { printable } from "../audit/text.js";
import type { CallCharge } from "../money/charge.js";
import { formatMoney } from "../money/currency.js";
import { capsLeftLine } from "../policy/caps-left.js";
import type { LoadedPolicy } from "../policy/load.js";
import { maskName } from "../policy/pii.js";
import type { CustomerFacts } from "../policy/scope.js";
import type { UsageSnapshot } from "../store/store.js";
import type { ApprovalNeed } from "./rules.js";

/**
 * What the person deciding an approval reads — in their MCP client, in `spendguard
 * approvals` and in the operator tools: who asks, for whom, how much (in the call's
 * currency and the cap currency), with which arguments, why it needs a yes, and what is
 * left of the caps. Plain lines, so any client shows it as written.
 */
export interface SummaryFacts {
  id: string;
  agent: string;
  session: string;
  tool: { name: string; title: string };
  args: Readonly<Record<string, unknown>>;
  account: string | null;
  customer: CustomerFacts | null;
  charge: CallCharge;
  need: ApprovalNeed;
  usage: UsageSnapshot;
  policy: LoadedPolicy;
}

export function approvalSummary(facts: SummaryFacts): string {
  const { charge, policy } = facts;
  const { caps } = policy;
  const lines = [
    `Agent "${facts.agent}" asks to run ${facts.tool.name} (${facts.tool.title}).`,
    `Customer: ${describeCustomer(facts.customer, policy.policy.pii)}`,
  ];
  if (charge.moves) {
    const own = formatMoney(charge.moves.amount, charge.moves.currency);
    lines.push(
      charge.moves.currency === caps.currency
        ? `Amount: ${own}`
        : `Amount: ${own} (≈ ${formatMoney(charge.amountCap, caps.currency)} in ${caps.currency.toUpperCase()}, the cap currency)`,
    );
  }
  if (charge.revenueAtRiskCap !== null) {
    lines.push(
      `Recurring revenue at risk: ${formatMoney(charge.revenueAtRiskCap, caps.currency)} a month`,
    );
  }
  lines.push(`Arguments: ${describeArgs(facts.args)}`);
  if (facts.account) lines.push(`Connected account: ${facts.account}`);
  lines.push(`Why you are asked: ${facts.need.why} (policy ${policy.name}, ${facts.need.rule}).`);
  const left = capsLeftLine(caps, facts.usage);
  if (left) lines.push(`Caps before this call: ${left}`);
  lines.push(
    `Request ${facts.id}, session ${facts.session}. A yes covers this one call with exactly these arguments, once, within ${policy.policy.approval_ttl}; the caps still apply.`,
  );
  return lines.join("\n");
}

function describeCustomer(customer: CustomerFacts | null, pii: "mask" | "reveal"): string {
  if (!customer) return "none (an object with no customer)";
  if (!customer.name) return customer.id;
  return `${pii === "reveal" ? customer.name : maskName(customer.name)} (${customer.id})`;
}

/**
 * `charge ch_1, amount 5000, reason "duplicate"`: scalars as they are, the rest as JSON;
 * the agent's text printable, so the summary shows the person deciding what it says.
 */
function describeArgs(args: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(args)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name} ${typeof value === "string" ? value : JSON.stringify(value)}`);
  return parts.length > 0 ? printable(parts.join(", ")) : "none";
}
