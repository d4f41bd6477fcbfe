import { readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import type { PolicyProblem } from "../policy/errors.js";
import { parseDuration } from "../policy/load.js";
import { durationText } from "../policy/schema.js";
import { parseYaml } from "../policy/yaml.js";

/**
 * The alerts file (`SPENDGUARD_ALERTS` / `--alerts FILE`): where alerts go (`sinks`) and
 * what sends one (`rules`). YAML, strict, validated at start-up; a signing secret is read
 * from the environment variable a sink names, never from the file.
 */

export const ALERT_TYPES = [
  "cap_denied",
  "kill",
  "approval_requested",
  "unknown_outcome",
  "store_unavailable",
  "velocity",
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

const name = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,40}$/, "a name of letters, digits, _ and - (at most 40)");

const sinkSchema = z
  .object({
    name,
    url: z.string().refine(isHttpUrl, "an http:// or https:// URL"),
    format: z.enum(["json", "slack"]).default("json"),
    secret_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name")
      .optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    on: z.enum(ALERT_TYPES),
    sinks: z.array(name).min(1).optional(),
    agents: z.array(z.string().min(1)).min(1).optional(),
    tools: z.array(z.string().min(1)).min(1).optional(),
    cooldown: durationText.default("5m"),
    window: durationText.optional(),
    max_calls: z.number().int().positive().optional(),
    max_amount: z.number().positive().finite().optional(),
    action: z.enum(["alert", "pause"]).optional(),
  })
  .strict();

const deliverySchema = z
  .object({
    retry_after: durationText.default("2s"),
    max_retry_after: durationText.default("10m"),
    give_up_after: durationText.default("24h"),
  })
  .strict();

export const alertsFileSchema = z
  .object({
    sinks: z.array(sinkSchema).min(1),
    rules: z.array(ruleSchema).min(1),
    delivery: deliverySchema.default({
      retry_after: "2s",
      max_retry_after: "10m",
      give_up_after: "24h",
    }),
  })
  .strict();

export interface Sink {
  name: string;
  url: string;
  format: "json" | "slack";
  /** The signing secret, read from `secret_env` at load; `null` sends unsigned. */
  secret: string | null;
}

interface RuleBase {
  /** `rules[0]`: how deliveries and audit rows name it. */
  id: string;
  sinks: readonly string[];
  agents: readonly string[] | null;
  tools: readonly string[] | null;
  cooldownMs: number;
}

export interface EventRule extends RuleBase {
  on: Exclude<AlertType, "velocity">;
}

export interface VelocityRule extends RuleBase {
  on: "velocity";
  windowMs: number;
  /** The window's text as written (`10m`), for messages. */
  window: string;
  maxCalls: number | null;
  /** Major units of the cap currency (each agent's policy says which). */
  maxAmount: number | null;
  action: "alert" | "pause";
}

export type AlertRule = EventRule | VelocityRule;

export interface DeliverySchedule {
  /** The first retry waits this long, each next one twice as long … */
  retryAfterMs: number;
  /** … up to this. */
  maxRetryAfterMs: number;
  /** A delivery still failing this long after it was queued is given up. */
  giveUpAfterMs: number;
}

export interface AlertsConfig {
  file: string;
  sinks: readonly Sink[];
  rules: readonly AlertRule[];
  delivery: DeliverySchedule;
}

export function loadAlerts(file: string, env: NodeJS.ProcessEnv): AlertsConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err);
    throw new ConfigError(`alerts file ${file} cannot be read: ${reason}`);
  }
  return parseAlerts(text, file, env);
}

export function parseAlerts(text: string, file: string, env: NodeJS.ProcessEnv): AlertsConfig {
  const { data, fail } = parseYaml(
    text,
    file,
    "alerts file",
    alertsFileSchema,
    "a mapping with sinks and rules",
  );
  const problems: PolicyProblem[] = [];
  const sinkNames = data.sinks.map((sink) => sink.name);
  data.sinks.forEach((sink, index) => {
    if (sinkNames.indexOf(sink.name) !== index) {
      problems.push({ path: ["sinks", index, "name"], expected: `"${sink.name}" is used twice` });
    }
    if (sink.secret_env !== undefined && !env[sink.secret_env]) {
      problems.push({
        path: ["sinks", index, "secret_env"],
        expected: `the environment variable ${sink.secret_env} is not set (it holds the signing secret)`,
      });
    }
  });
  data.rules.forEach((rule, index) => {
    for (const [at, sink] of (rule.sinks ?? []).entries()) {
      if (!sinkNames.includes(sink)) {
        problems.push({
          path: ["rules", index, "sinks", at],
          expected: `no sink named "${sink}"; expected one of: ${sinkNames.join(", ")}`,
        });
      }
    }
    problems.push(...checkRuleFields(rule, index));
  });
  if (problems.length > 0) fail(problems);

  return {
    file,
    sinks: data.sinks.map((sink) => ({
      name: sink.name,
      url: sink.url,
      format: sink.format,
      secret: sink.secret_env === undefined ? null : (env[sink.secret_env] ?? null),
    })),
    rules: data.rules.map((rule, index): AlertRule => {
      const base = {
        id: `rules[${index}]`,
        sinks: rule.sinks ?? sinkNames,
        agents: rule.agents ?? null,
        tools: rule.tools ?? null,
        cooldownMs: parseDuration(rule.cooldown),
      };
      if (rule.on !== "velocity") return { ...base, on: rule.on };
      const window = rule.window ?? "";
      return {
        ...base,
        on: "velocity",
        window,
        windowMs: parseDuration(window),
        maxCalls: rule.max_calls ?? null,
        maxAmount: rule.max_amount ?? null,
        action: rule.action ?? "alert",
      };
    }),
    delivery: {
      retryAfterMs: parseDuration(data.delivery.retry_after),
      maxRetryAfterMs: parseDuration(data.delivery.max_retry_after),
      giveUpAfterMs: parseDuration(data.delivery.give_up_after),
    },
  };
}

type RuleInput = z.output<typeof ruleSchema>;

/** `window`, `max_calls`, `max_amount` and `action` belong to velocity rules, which need them. */
function checkRuleFields(rule: RuleInput, index: number): PolicyProblem[] {
  const at = (field: string) => ["rules", index, field];
  if (rule.on === "velocity") {
    const problems: PolicyProblem[] = [];
    if (rule.window === undefined) {
      problems.push({
        path: at("window"),
        expected:
          "required field is missing (a velocity rule counts calls within a window such as 10m)",
      });
    } else if (parseDuration(rule.window) === 0) {
      problems.push({ path: at("window"), expected: "a window longer than 0" });
    }
    if (rule.max_calls === undefined && rule.max_amount === undefined) {
      problems.push({
        path: at("max_calls"),
        expected: "a velocity rule needs max_calls, max_amount or both",
      });
    }
    return problems;
  }
  return (["window", "max_calls", "max_amount", "action"] as const)
    .filter((field) => rule[field] !== undefined)
    .map((field) => ({
      path: at(field),
      expected: `only a velocity rule has ${field} (this rule is on: ${rule.on})`,
    }));
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * A sink's URL as logs and tables show it: scheme and host only. Webhook URLs carry their
 * secret in the path (Slack's do), so the rest is never shown.
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return "(not a URL)";
  }
}
