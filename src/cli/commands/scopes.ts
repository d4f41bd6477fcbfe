import { TOOLS } from "../../../tools/index.js";
import type { PermissionLevel } from "../../../tools/tool.js";
import { readEnvironment } from "../../config.js";
import { type LoadedPolicy, loadPolicy } from "../../policy/load.js";
import { parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { type Style, styleFor, table, tolerateClosedPipe } from "../format.js";
import { keySource, probeClient } from "../key-source.js";
import {
  type BlastRadius,
  blastRadius,
  capsLine,
  DASHBOARD_NAMES,
  enabledTools,
  type KeyResource,
  keyKind,
  type NeededPermission,
  neededPermissions,
  PROBED_RESOURCES,
  type ProbeResult,
  permissionList,
  permissionSet,
  probeAll,
} from "../permissions.js";

const USAGE = `Usage: spendguard scopes --policy FILE [--read-only] [--check-key [--sandbox]] [--json]

Prints the minimum Restricted Key permissions for the tools the policy enables, as the
Stripe Dashboard names them (Developers → API keys → Create restricted key: Resource →
Read/Write) and as a resource:level list, then the key's blast radius: the writes it
allows that move money, the other writes, the policy caps that bound them, and
warnings for dangerous combinations.

Options:
  --policy FILE   the policy (or SPENDGUARD_POLICY)
  --read-only     as for \`serve --read-only\`: read tools only
  --check-key     compare with the permissions the key actually has, by read-only probes
                  (one GET per resource, limit=1; nothing is ever written): lists missing
                  and excess permissions. Uses STRIPE_API_KEY and SPENDGUARD_STRIPE_BASE_URL.
                  A read cannot tell whether the key may write, so write access is
                  reported as "not probed" (check it in the Dashboard).
  --sandbox       with --check-key: check the demo sandbox's key for this policy's role
  --json          one JSON object

Exit code: 0; 1 the policy is invalid, or (--check-key) a permission is missing, an
excess one was found, or the key could not be checked; 2 usage.
`;

interface KeyCheck {
  key: string;
  probes: (ProbeResult & { needed: PermissionLevel | null })[];
  missing: string[];
  excess: string[];
  /** Write levels the policy needs that a read cannot confirm. */
  not_probed: string[];
  /** Why the key could not be checked at all, if so. */
  problem: string | null;
}

export const scopesCommand: CliCommand = {
  name: "scopes",
  summary: "print the restricted-key permissions a policy needs; --check-key compares a key",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      policy: { type: "string" },
      "read-only": { type: "boolean" },
      "check-key": { type: "boolean" },
      sandbox: { type: "boolean" },
      json: { type: "boolean" },
    });
    const file = values.policy ?? readEnvironment(io.env).policyFile;
    if (!file) throw new UsageError("no policy: pass --policy FILE or set SPENDGUARD_POLICY");
    if (values.sandbox && !values["check-key"]) {
      throw new UsageError("--sandbox only goes with --check-key");
    }
    const policy = loadPolicy(file, TOOLS);
    const readOnly = values["read-only"] ?? false;
    const tools = enabledTools(policy, TOOLS, readOnly);
    const needed = neededPermissions(tools);
    const set = permissionSet(needed);
    const radius = blastRadius(set);
    const check = values["check-key"]
      ? await checkKey(policy, needed, values.sandbox ?? false, io.env)
      : undefined;

    if (values.json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            policy: policy.name,
            file: policy.file,
            read_only: readOnly,
            tools: tools.map((t) => ({ name: t.name, kind: t.kind })),
            permissions: needed.map((p) => ({
              resource: p.resource,
              dashboard: DASHBOARD_NAMES[p.resource],
              level: p.level,
              tools: p.tools,
            })),
            list: permissionList(set),
            blast_radius: {
              money_moving_writes: radius.moneyWrites,
              other_writes: radius.otherWrites,
              caps: capsLine(policy),
              warnings: radius.warnings,
            },
            ...(check ? { check_key: check } : {}),
          },
          null,
          2,
        )}\n`,
      );
    } else {
      const style = styleFor(io.stdout, io.env);
      writePermissions(io, style, policy, tools, needed, radius, readOnly);
      if (check) writeCheck(io, style, check);
    }
    if (!check) return 0;
    return check.problem || check.missing.length > 0 || check.excess.length > 0 ? 1 : 0;
  },
};

const level = (l: PermissionLevel | null | undefined) =>
  l === "write" ? "Write" : l === "read" ? "Read" : "None";

function neededBy(p: NeededPermission): string {
  const top = p.tools.filter((t) => t.level === p.level).map((t) => t.name);
  const lower = p.tools.filter((t) => t.level !== p.level).map((t) => t.name);
  return `${top.join(", ")}${lower.length ? ` (read: ${lower.join(", ")})` : ""}`;
}

function writePermissions(
  io: CliIO,
  style: Style,
  policy: LoadedPolicy,
  tools: ReturnType<typeof enabledTools>,
  needed: NeededPermission[],
  radius: BlastRadius,
  readOnly: boolean,
): void {
  const reads = tools.filter((t) => t.kind === "read").map((t) => t.name);
  const writes = tools.filter((t) => t.kind === "write").map((t) => t.name);
  const out: string[] = [
    style.bold(
      `Policy ${policy.name} (${policy.file}): ${tools.length} Stripe tool(s)${readOnly ? ", read-only" : ""}`,
    ),
    `  reads:  ${reads.join(", ") || "none"}`,
    `  writes: ${writes.join(", ") || "none"}`,
    "",
    style.bold("Restricted key permissions") +
      " (Dashboard: Developers → API keys → Create restricted key)",
  ];
  io.stdout.write(`${out.join("\n")}\n`);
  if (needed.length === 0) {
    io.stdout.write("  none: this policy enables no Stripe tool.\n");
  } else {
    io.stdout.write(
      table(
        ["RESOURCE", "PERMISSION", "NEEDED BY"],
        needed.map((p) => [DASHBOARD_NAMES[p.resource], level(p.level), neededBy(p)]),
        { indent: "  ", header: style.dim },
      ),
    );
    io.stdout.write("  every other resource: None\n");
  }
  const list = permissionList(permissionSet(needed));
  const lines = [
    "",
    `As a list: ${list.join(" ") || "(none)"}`,
    "",
    style.bold("Blast radius"),
    `  Money-moving writes: ${
      radius.moneyWrites.length
        ? radius.moneyWrites.map((w) => `${DASHBOARD_NAMES[w.resource]}: ${w.what}`).join("; ")
        : "none"
    }`,
    `  Other writes:        ${
      radius.otherWrites.length
        ? radius.otherWrites.map((w) => `${DASHBOARD_NAMES[w.resource]}: ${w.what}`).join("; ")
        : "none"
    }`,
  ];
  if (radius.moneyWrites.length > 0 || radius.otherWrites.length > 0) {
    lines.push(`  The key itself limits no amount; the policy's caps do: ${capsLine(policy)}.`);
  }
  lines.push(
    radius.warnings.length
      ? `  ${style.yellow("Warnings:")}\n${radius.warnings.map((w) => `    - ${w}`).join("\n")}`
      : "  Warnings: none (no write on Transfers, Payouts, Accounts or Webhook Endpoints, no risky combination)",
  );
  io.stdout.write(`${lines.join("\n")}\n`);
}

async function checkKey(
  policy: LoadedPolicy,
  needed: NeededPermission[],
  sandbox: boolean,
  env: NodeJS.ProcessEnv,
): Promise<KeyCheck> {
  const source = await keySource({ sandbox, policy, env });
  const base: KeyCheck = {
    key: source.origin,
    probes: [],
    missing: [],
    excess: [],
    not_probed: [],
    problem: null,
  };
  try {
    if (!source.key) {
      return {
        ...base,
        problem:
          "STRIPE_API_KEY is not set: set it to the key to check, or pass --sandbox to check the demo sandbox's key.",
      };
    }
    const kind = keyKind(source.key);
    if (!kind) {
      return {
        ...base,
        problem: "STRIPE_API_KEY is not a Stripe key (rk_test_…, rk_live_…, sk_…).",
      };
    }
    if (kind.kind === "secret") {
      return {
        ...base,
        problem:
          "this is a standard secret key (sk_…): it has every permission, Transfers and Payouts included. Create a restricted key with the permissions above instead.",
      };
    }
    const wanted = new Map<KeyResource, PermissionLevel>(needed.map((p) => [p.resource, p.level]));
    const resources = [...new Set<KeyResource>([...wanted.keys(), ...PROBED_RESOURCES])];
    const results = await probeAll(probeClient(source), resources);
    const fatal = results.find((r) => r.status === "rejected" || r.status === "unreachable");
    if (fatal) {
      return {
        ...base,
        problem:
          fatal.status === "rejected"
            ? `Stripe did not accept the key: ${fatal.detail ?? ""}`
            : `cannot reach ${source.baseUrl ?? "Stripe"}: ${fatal.detail ?? ""}`,
      };
    }
    const probes = results.map((r) => ({ ...r, needed: wanted.get(r.resource) ?? null }));
    const name = (r: KeyResource) => DASHBOARD_NAMES[r];
    return {
      ...base,
      probes,
      missing: probes
        .filter((p) => p.needed !== null && p.status === "missing")
        .map((p) => `${p.resource}:${p.needed}`),
      excess: probes
        .filter((p) => p.needed === null && p.status === "granted")
        .map((p) => `${p.resource}:read`),
      not_probed: [
        ...needed.filter((p) => p.level === "write").map((p) => `${p.resource}:write`),
        ...probes
          .filter((p) => p.status === "unclear")
          .map((p) => `${p.resource} (${name(p.resource)}): ${p.detail ?? ""}`),
      ],
    };
  } finally {
    await source.close();
  }
}

function writeCheck(io: CliIO, style: Style, check: KeyCheck): void {
  const out: string[] = [
    "",
    `${style.bold("Key check")}: ${check.key}`,
    "  read-only probes: one GET per resource (limit=1); nothing is written",
  ];
  if (check.problem) {
    out.push(`  ${style.red("cannot check:")} ${check.problem}`);
    io.stdout.write(`${out.join("\n")}\n`);
    return;
  }
  io.stdout.write(`${out.join("\n")}\n`);
  const verdict = (p: KeyCheck["probes"][number]) => {
    if (p.status === "unclear") return `unclear: ${p.detail ?? ""}`;
    if (p.needed !== null) {
      if (p.status === "missing") return `MISSING: grant ${level(p.needed)}`;
      return p.needed === "write"
        ? `ok (read works; write not probed: only a write could test it)`
        : "ok";
    }
    return p.status === "granted" ? "EXCESS: the key can read this; set it to None" : "ok";
  };
  const paintVerdict = (p: KeyCheck["probes"][number], text: string) =>
    p.status === "unclear"
      ? style.yellow(text)
      : text.startsWith("MISSING") || text.startsWith("EXCESS")
        ? style.red(text)
        : text;
  io.stdout.write(
    table(
      ["RESOURCE", "NEEDED", "READ PROBE", "RESULT"],
      check.probes.map((p) => [
        DASHBOARD_NAMES[p.resource],
        level(p.needed),
        p.status === "granted" ? "allowed" : p.status === "missing" ? "refused (403)" : p.status,
        verdict(p),
      ]),
      {
        indent: "  ",
        header: style.dim,
        paint: (text, row, column) =>
          column === 3 ? paintVerdict(check.probes[row] as KeyCheck["probes"][number], text) : text,
      },
    ),
  );
  const lines = [
    `  Missing: ${check.missing.join(" ") || "none"}`,
    `  Excess:  ${check.excess.join(" ") || "none found"}`,
    `  Not probed: ${[
      ...check.not_probed,
      "resources no spendguard tool reads (Transfers, Payouts, Accounts, Webhook Endpoints, …)",
    ].join("; ")}: check them in the Dashboard.`,
  ];
  io.stdout.write(`${lines.join("\n")}\n`);
}
