import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { type FxTable, fxTable, majorToMinor } from "../money/currency.js";
import type { PolicyPath, PolicyProblem } from "./errors.js";
import type { ToolRules } from "./params.js";
import { type ParamRule, type Policy, policySchema } from "./schema.js";
import { parseYaml } from "./yaml.js";

/**
 * Loads a policy file: YAML, validated by the schema, then checked against the tools this
 * build knows. Anything not understood fails the load, naming the file, the line, the
 * field path and what was expected — a policy never half-applies.
 */

/** Caps in minor units of the cap currency, converted once at load. `null` = no such cap. */
export interface PolicyCaps {
  currency: string;
  perCall: number | null;
  perSession: number | null;
  perDay: number | null;
  perCustomerPerDay: number | null;
  cancellationsPerSession: number | null;
  cancellationsPerDay: number | null;
  approvalOver: number | null;
  fx: FxTable;
}

export interface LoadedPolicy {
  policy: Policy;
  name: string;
  /** sha256 (hex) of the file's bytes: recorded with every session it governs. */
  hash: string;
  file: string;
  caps: PolicyCaps;
  /** `session_ttl` in ms; `null` = sessions do not expire by age. */
  sessionTtlMs: number | null;
  /** `approval_ttl` in ms. */
  approvalTtlMs: number;
  /** `approval_timeout` in ms. */
  approvalTimeoutMs: number;
}

const DURATION_UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `8h`, `1d` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!match) throw new ConfigError(`"${text}" is not a duration; expected e.g. 30m, 8h or 1d`);
  return Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS];
}

export function loadPolicy(file: string, knownTools: readonly ToolRules[]): LoadedPolicy {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err);
    throw new ConfigError(`policy ${file} cannot be read: ${reason}`);
  }
  return parsePolicy(bytes, file, knownTools);
}

/** As `loadPolicy`, from bytes already in hand (`file` names them in messages). */
export function parsePolicy(
  source: Buffer | string,
  file: string,
  knownTools: readonly ToolRules[],
): LoadedPolicy {
  const bytes = typeof source === "string" ? Buffer.from(source, "utf8") : source;
  const parsed = parseYaml(
    bytes.toString("utf8"),
    file,
    "policy",
    policySchema,
    "a mapping with name, mode, tools, customers, …",
  );
  const fail = parsed.fail;
  const policy = parsed.data;
  const problems = [
    ...checkTools(policy, knownTools),
    ...checkFx(policy),
    ...checkApprovals(policy, knownTools),
  ];
  if (problems.length > 0) fail(problems);

  const caps = capsInMinor(policy, fail);
  return {
    policy,
    name: policy.name,
    hash: createHash("sha256").update(bytes).digest("hex"),
    file,
    caps,
    sessionTtlMs: policy.session_ttl ? parseDuration(policy.session_ttl) : null,
    approvalTtlMs: parseDuration(policy.approval_ttl),
    approvalTimeoutMs: parseDuration(policy.approval_timeout),
  };
}

/** Tools must exist and be Stripe tools; rules may only test what the tool lets them test. */
function checkTools(policy: Policy, knownTools: readonly ToolRules[]): PolicyProblem[] {
  const byName = new Map(knownTools.map((tool) => [tool.name, tool]));
  const stripeTools = knownTools.filter((tool) => tool.kind !== "session").map((t) => t.name);
  const problems: PolicyProblem[] = [];
  for (const [name, entry] of Object.entries(policy.tools)) {
    const tool = byName.get(name);
    if (!tool) {
      problems.push({
        path: ["tools", name],
        expected: `unknown tool; expected one of: ${stripeTools.join(", ")}`,
      });
      continue;
    }
    if (tool.kind === "session") {
      problems.push({
        path: ["tools", name],
        expected: "session tools are always available; remove this entry",
      });
      continue;
    }
    problems.push(...checkRuleParams(tool, entry.params, ["tools", name, "params"]));
  }
  return problems;
}

/** Rules may only test the tool's rule parameters, with a range that is not empty. */
function checkRuleParams(
  tool: ToolRules,
  params: Readonly<Record<string, ParamRule>> | undefined,
  at: PolicyPath,
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  for (const [param, rule] of Object.entries(params ?? {})) {
    const path = [...at, param];
    if (!tool.ruleParams.includes(param)) {
      problems.push({
        path,
        expected: tool.ruleParams.length
          ? `${tool.name} has no rule parameter "${param}"; expected one of: ${tool.ruleParams.join(", ")}`
          : `${tool.name} takes no parameter rules`,
      });
    } else if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max) {
      problems.push({ path, expected: `min (${rule.min}) must not exceed max (${rule.max})` });
    }
  }
  return problems;
}

/** Approval rules name listed tools and their rule parameters; a wait outlives no request. */
function checkApprovals(policy: Policy, knownTools: readonly ToolRules[]): PolicyProblem[] {
  const byName = new Map(knownTools.map((tool) => [tool.name, tool]));
  const problems: PolicyProblem[] = [];
  policy.require_approval_for.forEach(({ tool: name, params }, index) => {
    const tool = byName.get(name);
    if (!(name in policy.tools) || !tool || tool.kind === "session") {
      problems.push({
        path: ["require_approval_for", index],
        expected: `"${name}" is not a tool listed under tools; expected one of: ${Object.keys(policy.tools).join(", ")}`,
      });
      return;
    }
    problems.push(...checkRuleParams(tool, params, ["require_approval_for", index, "params"]));
  });
  if (parseDuration(policy.approval_timeout) > parseDuration(policy.approval_ttl)) {
    problems.push({
      path: ["approval_timeout"],
      expected: `at most approval_ttl (${policy.approval_ttl}): a request cannot wait longer than it lives`,
    });
  }
  return problems;
}

function checkFx(policy: Policy): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const seen = new Set<string>();
  for (const [code, rate] of Object.entries(policy.fx)) {
    const lower = code.toLowerCase();
    if (seen.has(lower)) {
      problems.push({ path: ["fx", code], expected: `${lower} is listed twice` });
    }
    seen.add(lower);
    if (lower === policy.caps.currency && rate !== 1) {
      problems.push({
        path: ["fx", code],
        expected: `${lower} is the cap currency; its rate can only be 1 (or leave it out)`,
      });
    }
  }
  return problems;
}

function capsInMinor(policy: Policy, fail: (problems: PolicyProblem[]) => never): PolicyCaps {
  const { caps } = policy;
  const minor = (path: PolicyPath, major: number | undefined): number | null => {
    if (major === undefined) return null;
    try {
      return majorToMinor(major, caps.currency);
    } catch {
      return fail([{ path, expected: "an amount small enough to count exactly" }]);
    }
  };
  return {
    currency: caps.currency,
    perCall: minor(["caps", "per_call"], caps.per_call),
    perSession: minor(["caps", "per_session"], caps.per_session),
    perDay: minor(["caps", "per_day"], caps.per_day),
    perCustomerPerDay: minor(["caps", "per_customer_per_day"], caps.per_customer_per_day),
    cancellationsPerSession: caps.cancellations_per_session ?? null,
    cancellationsPerDay: caps.cancellations_per_day ?? null,
    approvalOver: minor(["require_approval_over"], policy.require_approval_over),
    fx: fxTable(caps.currency, policy.fx),
  };
}
