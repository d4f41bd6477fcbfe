import { type Denial, deny } from "./decision.js";
import type { ParamRule, Policy } from "./schema.js";

/** What the policy needs to know of a tool; every tool declaration (`tools/tool.ts`) is one. */
export interface ToolRules {
  name: string;
  kind: "read" | "write" | "session";
  /** Names the policy's parameter rules may test. */
  ruleParams: readonly string[];
  /** Rules that hold unless the policy states its own for that parameter. */
  defaultParamRules?: Readonly<Record<string, ParamRule>>;
}

/**
 * Parameter rules: the policy's own rule for a parameter, else the tool's safe default.
 * Arguments are tested before Stripe is read; values the tool derives (`refund_fraction`)
 * after. A rule whose value never shows up denies: a limit cannot be met by silence.
 */

export interface EffectiveRule {
  param: string;
  rule: ParamRule;
  /** The field that set it, for the decision's `rule`. */
  source: string;
}

export function effectiveRules(policy: Policy, tool: ToolRules): EffectiveRule[] {
  const own = policy.tools[tool.name]?.params ?? {};
  const rules: EffectiveRule[] = [];
  for (const [param, rule] of Object.entries(own)) {
    rules.push({ param, rule, source: `tools.${tool.name}.params.${param}` });
  }
  for (const [param, rule] of Object.entries(tool.defaultParamRules ?? {})) {
    if (!(param in own)) rules.push({ param, rule, source: `${tool.name} default: ${param}` });
  }
  return rules;
}

type Values = Readonly<Record<string, unknown>>;

/** Rules on parameters the agent gave; the others wait for `checkResolvedParams`. */
export function checkArgumentParams(
  rules: readonly EffectiveRule[],
  tool: string,
  args: Values,
): Denial | undefined {
  for (const entry of rules) {
    if (args[entry.param] === undefined) continue;
    const problem = violation(entry, args[entry.param]);
    if (problem) return deny("param_not_allowed", entry.source, `${tool} refused: ${problem}`);
  }
  return undefined;
}

/** Rules on derived values, and on parameters that were neither given nor derived. */
export function checkResolvedParams(
  rules: readonly EffectiveRule[],
  tool: string,
  args: Values,
  attributes: Values,
): Denial | undefined {
  for (const entry of rules) {
    if (args[entry.param] !== undefined) continue;
    const value = attributes[entry.param];
    if (value === undefined) {
      return deny(
        "param_not_allowed",
        entry.source,
        `${tool} refused: the policy requires ${entry.param} to be ${expectation(entry.rule)}, so it must be given explicitly.`,
      );
    }
    const problem = violation(entry, value);
    if (problem) return deny("param_not_allowed", entry.source, `${tool} refused: ${problem}`);
  }
  return undefined;
}

/** Every part of the rule (`in`, `equals`, `min`, `max`) holds for the value. */
export function ruleHolds(rule: ParamRule, value: unknown): boolean {
  return (
    (rule.in === undefined || rule.in.some((allowed) => allowed === value)) &&
    (rule.equals === undefined || rule.equals === value) &&
    (rule.min === undefined || (typeof value === "number" && value >= rule.min)) &&
    (rule.max === undefined || (typeof value === "number" && value <= rule.max))
  );
}

function violation({ param, rule }: EffectiveRule, value: unknown): string | undefined {
  if (ruleHolds(rule, value)) return undefined;
  return `${param} must be ${expectation(rule)} (got ${show(value)}). Retry with an allowed value.`;
}

/** `one of "duplicate", "requested_by_customer"`, `true`, `at most 0.5`, `between 1 and 5`. */
export function expectation(rule: ParamRule): string {
  const parts: string[] = [];
  if (rule.in !== undefined) parts.push(`one of ${rule.in.map(show).join(", ")}`);
  if (rule.equals !== undefined) parts.push(show(rule.equals));
  if (rule.min !== undefined && rule.max !== undefined)
    parts.push(`between ${rule.min} and ${rule.max}`);
  else if (rule.min !== undefined) parts.push(`at least ${rule.min}`);
  else if (rule.max !== undefined) parts.push(`at most ${rule.max}`);
  return parts.join(" and ");
}

function show(value: unknown): string {
  if (typeof value === "number") return String(Math.round(value * 10_000) / 10_000);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
