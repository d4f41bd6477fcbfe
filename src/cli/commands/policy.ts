import { Document, isMap, isScalar } from "yaml";
import { TOOLS } from "../../../tools/index.js";
import { toolLimits } from "../../guard/caps.js";
import { type LoadedPolicy, loadPolicy } from "../../policy/load.js";
import { effectiveRules } from "../../policy/params.js";
import { parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { tolerateClosedPipe } from "../format.js";

const USAGE = `Usage: spendguard policy check FILE [--json]

Validates a policy file and prints the effective policy: every default filled in, each
tool with the parameter rules and call limits that really apply to it (its own, the
tool's safe defaults, or the policy-wide \`limits\`), and null where there is no such
limit. Comments say where a value comes from.

An invalid policy prints what the loader found — file, line, field and what was
expected — and exits 1; nothing is printed to stdout then.

Options:
  --json   the effective policy as JSON (with its sha256 and the sources of tool rules)

Exit code: 0 valid, 1 invalid (or unreadable), 2 usage.
`;

interface EffectiveTool {
  kind: string;
  params: Record<string, unknown>;
  calls_per_session: number | null;
  calls_per_hour: number | null;
  /** Where each value comes from: `tools.x.params.y`, `x default: y`, `limits.calls_per_hour`. */
  sources: Record<string, string>;
}

/** The policy as the guard applies it. */
function effectivePolicy(loaded: LoadedPolicy) {
  const p = loaded.policy;
  const tools: Record<string, EffectiveTool> = {};
  for (const name of Object.keys(p.tools)) {
    const tool = TOOLS.find((t) => t.name === name);
    if (!tool) continue; // the loader refuses unknown tools; nothing to show
    const rules = effectiveRules(p, tool);
    const limits = toolLimits(p, name);
    const sources: Record<string, string> = {};
    for (const r of rules) sources[`params.${r.param}`] = r.source;
    if (limits.perSession) sources.calls_per_session = limits.perSession.rule;
    if (limits.perHour) sources.calls_per_hour = limits.perHour.rule;
    tools[name] = {
      kind: tool.kind,
      params: Object.fromEntries(rules.map((r) => [r.param, r.rule])),
      calls_per_session: limits.perSession?.limit ?? null,
      calls_per_hour: limits.perHour?.limit ?? null,
      sources,
    };
  }
  const customers =
    p.customers === "all"
      ? "all"
      : {
          ids: p.customers.ids ?? null,
          metadata: p.customers.metadata ?? null,
          email_domains: p.customers.email_domains ?? null,
          allow_no_customer: p.customers.allow_no_customer,
        };
  return {
    name: p.name,
    description: p.description ?? null,
    mode: p.mode,
    pii: p.pii,
    tools,
    caps: {
      currency: p.caps.currency,
      per_call: p.caps.per_call ?? null,
      per_session: p.caps.per_session ?? null,
      per_day: p.caps.per_day ?? null,
      per_customer_per_day: p.caps.per_customer_per_day ?? null,
      cancellations_per_session: p.caps.cancellations_per_session ?? null,
      cancellations_per_day: p.caps.cancellations_per_day ?? null,
    },
    limits: {
      calls_per_session: p.limits.calls_per_session ?? null,
      calls_per_hour: p.limits.calls_per_hour ?? null,
    },
    customers,
    connected_accounts: p.connected_accounts,
    fx: Object.fromEntries(Object.entries(p.fx).map(([code, rate]) => [code.toLowerCase(), rate])),
    session_ttl: p.session_ttl ?? null,
    sessions_per_day: p.sessions_per_day ?? null,
    expires_at: p.expires_at ? p.expires_at.toISOString() : null,
    require_approval_over: p.require_approval_over ?? null,
    require_approval_for: p.require_approval_for.map((rule) => ({
      tool: rule.tool,
      params: rule.params ?? {},
    })),
    approval_ttl: p.approval_ttl,
    approval_timeout: p.approval_timeout,
    approval_via: p.approval_via ?? null,
  };
}

export const policyCommand: CliCommand = {
  name: "policy",
  summary: "policy check FILE: validate a policy and print it with every default filled in",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values, positionals } = parseFlags(
      argv,
      { json: { type: "boolean" } },
      { positionals: true },
    );
    const [sub, file, ...extra] = positionals;
    if (sub !== "check") {
      throw new UsageError(
        sub === undefined
          ? "missing sub-command: check"
          : `unknown sub-command '${sub}'; expected check`,
      );
    }
    if (file === undefined) throw new UsageError("missing FILE: spendguard policy check FILE");
    if (extra.length > 0) throw new UsageError(`one FILE at a time, got also: ${extra.join(" ")}`);

    const loaded = loadPolicy(file, TOOLS);
    const effective = effectivePolicy(loaded);
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ file: loaded.file, sha256: loaded.hash, policy: effective }, null, 2)}\n`,
      );
    } else {
      io.stdout.write(toYaml(loaded, effective));
    }
    io.stderr.write(
      `policy ${file} is valid (${loaded.name}, sha256 ${loaded.hash.slice(0, 12)}…)\n`,
    );
    return 0;
  },
};

/** YAML with comments saying where each tool's rules come from. */
function toYaml(loaded: LoadedPolicy, effective: ReturnType<typeof effectivePolicy>): string {
  const plain = {
    ...effective,
    tools: Object.fromEntries(
      Object.entries(effective.tools).map(([name, t]) => [
        name,
        {
          params: t.params,
          calls_per_session: t.calls_per_session,
          calls_per_hour: t.calls_per_hour,
        },
      ]),
    ),
  };
  const doc = new Document(plain);
  doc.commentBefore = [
    ` Effective policy of ${loaded.file} (sha256 ${loaded.hash})`,
    " Every default is filled in; null means no such limit.",
    " Caps are in major units of caps.currency (100 = 100.00).",
  ].join("\n");
  const via = doc.get("approval_via", true);
  if (isScalar(via) && via.value === null) {
    via.comment = " unset: operator over HTTP (agent keys), client over stdio";
  }
  const tools = doc.get("tools", true);
  if (isMap(tools)) {
    for (const pair of tools.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : "";
      const tool = effective.tools[name];
      if (!tool || !isMap(pair.value)) continue;
      pair.value.commentBefore = ` ${tool.kind} tool`;
      for (const [field, source] of Object.entries(tool.sources)) {
        const target = doc.getIn(["tools", name, ...field.split(".")], true);
        // A rule reads best on one line, its source after it.
        if (isMap(target)) target.flow = true;
        if (isScalar(target) || isMap(target)) target.comment = ` from ${source}`;
      }
    }
  }
  return doc.toString({ lineWidth: 100 });
}
