import { accessSync, constants, existsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { TOOLS } from "../../../tools/index.js";
import { verifyAudit } from "../../audit/chain.js";
import { readEnvironment } from "../../config.js";
import { ConfigError } from "../../errors.js";
import { ALL_SESSIONS } from "../../guard/kill.js";
import { type LoadedPolicy, loadPolicy } from "../../policy/load.js";
import { type DataLocation, describeLocation, openStore } from "../../store/open.js";
import { inspectPostgres } from "../../store/postgres/database.js";
import { sqliteAddonProblem } from "../../store/sqlite/open.js";
import { inspectDatabase } from "../../store/sqlite/store.js";
import { checkStripeKey } from "../../stripe/keys.js";
import { PACKAGE_ROOT } from "../../version.js";
import { HOME_FLAG, locationOf, parseFlags } from "../args.js";
import type { CliCommand, CliIO } from "../command.js";
import { styleFor, tolerateClosedPipe } from "../format.js";
import { type KeySource, keySource, probeClient } from "../key-source.js";
import {
  DASHBOARD_NAMES,
  enabledTools,
  type KeyResource,
  neededPermissions,
  PROBED_RESOURCES,
  probe,
  probeAll,
} from "../permissions.js";

const MIN_NODE_MAJOR = 20;

const USAGE = `Usage: spendguard doctor [--policy FILE] [--sandbox] [--allow-secret-key] [--json] [--home DIR] [--database URL]

Checks that spendguard can run here, one line per check with what to do when it fails:
  - Node.js version (${MIN_NODE_MAJOR} or later)
  - the data directory is writable (and private)
  - the database schema is current
  - no kill/ALL flag is refusing every session
  - the policy is valid
  - the Stripe key is set, restricted (rk_), and of the policy's mode (test/live)
  - Stripe (or the sandbox) is reachable with it
  - every permission the policy's tools need is granted
  - the audit hash chain is intact
Only read-only requests reach Stripe (one GET per resource); nothing is ever written.

Options:
  --policy FILE        the policy (or SPENDGUARD_POLICY)
  --sandbox            check against the built-in demo sandbox with its key for the
                       policy's role (default policy: policies/support-refunds.yaml)
  --allow-secret-key   accept a standard sk_ key, as \`serve --allow-secret-key\` does
  --json               one JSON object
  --home DIR           data directory (default: SPENDGUARD_HOME, else ~/.spendguard)
  --database URL       the PostgreSQL shared by several hosts (default:
                       SPENDGUARD_DATABASE_URL); its schema and audit chain are checked

Environment: STRIPE_API_KEY, SPENDGUARD_POLICY, SPENDGUARD_HOME, SPENDGUARD_DATABASE_URL,
SPENDGUARD_STRIPE_BASE_URL.
Exit code: 0 every check passed (warnings allowed), 1 a check failed, 2 usage.
`;

type Status = "pass" | "warn" | "fail" | "skip";

export interface CheckResult {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
}

export const doctorCommand: CliCommand = {
  name: "doctor",
  summary:
    "check the setup: Node, data directory, database, policy, key, Stripe, permissions, audit",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      policy: { type: "string" },
      sandbox: { type: "boolean" },
      "allow-secret-key": { type: "boolean" },
      json: { type: "boolean" },
    });
    const location = locationOf(values, io.env);
    const { home } = location;
    const sandbox = values.sandbox ?? false;
    const policyFile =
      values.policy ??
      readEnvironment(io.env).policyFile ??
      (sandbox ? join(PACKAGE_ROOT, "policies", "support-refunds.yaml") : undefined);

    const results: CheckResult[] = [];
    results.push(checkNode());
    results.push(checkDataDirectory(home));
    const database = location.databaseUrl
      ? await checkPostgres(location.databaseUrl, describeLocation(location))
      : checkDatabase(home);
    results.push(database.result);
    results.push(checkKillAll(home));
    const { result: policyResult, policy } = checkPolicy(policyFile);
    results.push(policyResult);
    results.push(
      ...(await checkStripe(policy, sandbox, values["allow-secret-key"] ?? false, io.env)),
    );
    results.push(database.current ? await checkAudit(location) : skipAudit(database.result));

    const failed = results.filter((r) => r.status === "fail").length;
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ ok: failed === 0, home, policy: policyFile ?? null, checks: results }, null, 2)}\n`,
      );
    } else {
      const where = location.databaseUrl ? `${home}, database ${describeLocation(location)}` : home;
      write(io, results, where, policyFile);
    }
    return failed > 0 ? 1 : 0;
  },
};

function write(io: CliIO, results: CheckResult[], home: string, policyFile: string | undefined) {
  const style = styleFor(io.stdout, io.env);
  const tag: Record<Status, string> = {
    pass: style.green("PASS"),
    warn: style.yellow("WARN"),
    fail: style.red("FAIL"),
    skip: style.dim("SKIP"),
  };
  const lines = [
    style.bold(`spendguard doctor — home ${home}${policyFile ? `, policy ${policyFile}` : ""}`),
  ];
  for (const r of results) {
    lines.push(`  ${tag[r.status]}  ${r.check}: ${r.detail}`);
    if (r.fix && (r.status === "fail" || r.status === "warn")) {
      lines.push(`        ${style.dim("fix:")} ${r.fix}`);
    }
  }
  const failed = results.filter((r) => r.status === "fail").length;
  const warned = results.filter((r) => r.status === "warn").length;
  lines.push(
    "",
    failed > 0
      ? style.red(`${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ""}.`)
      : style.green(`All checks passed${warned ? ` (${warned} warning(s))` : ""}.`),
  );
  io.stdout.write(`${lines.join("\n")}\n`);
}

function checkNode(): CheckResult {
  const version = process.versions.node;
  const major = Number(version.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    return {
      check: "Node.js",
      status: "fail",
      detail: `${version} is too old (needs ${MIN_NODE_MAJOR} or later)`,
      fix: `install Node.js ${MIN_NODE_MAJOR} LTS or newer (https://nodejs.org), then npm ci again`,
    };
  }
  // The SQLite addon is built for the Node that ran npm ci: another one cannot serve.
  const addon = sqliteAddonProblem();
  if (addon) return { check: "Node.js", status: "fail", ...addon };
  return {
    check: "Node.js",
    status: "pass",
    detail: `${version} (needs ${MIN_NODE_MAJOR} or later)`,
  };
}

function checkDataDirectory(home: string): CheckResult {
  const check = "data directory";
  if (!existsSync(home)) {
    let parent = dirname(home);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    try {
      accessSync(parent, constants.W_OK);
      return {
        check,
        status: "pass",
        detail: `${home} does not exist yet; it will be created (owner-only) on first use`,
      };
    } catch {
      return {
        check,
        status: "fail",
        detail: `${home} does not exist and ${parent} is not writable`,
        fix: `create it (mkdir -m 700 -p ${home}) or point SPENDGUARD_HOME at a writable directory`,
      };
    }
  }
  const probeFile = join(home, `.doctor-${process.pid}`);
  try {
    writeFileSync(probeFile, "");
    unlinkSync(probeFile);
  } catch (error) {
    return {
      check,
      status: "fail",
      detail: `${home} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      fix: `give this user write access (chmod u+w ${home}) or point SPENDGUARD_HOME elsewhere`,
    };
  }
  const mode = statSync(home).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return {
      check,
      status: "warn",
      detail: `${home} is writable but readable by others (mode ${mode.toString(8)}): it holds the audit`,
      fix: `chmod 700 ${home}`,
    };
  }
  return { check, status: "pass", detail: `${home} is writable and private` };
}

function checkDatabase(home: string): { result: CheckResult; current: boolean } {
  const check = "database schema";
  try {
    const info = inspectDatabase(home);
    if (!info.exists) {
      return {
        result: { check, status: "pass", detail: "no database yet; the first serve creates it" },
        current: false,
      };
    }
    if (info.version === info.current) {
      return {
        result: {
          check,
          status: "pass",
          detail: `current (version ${info.current}) in ${info.file}`,
        },
        current: true,
      };
    }
    if ((info.version ?? 0) < info.current) {
      return {
        result: {
          check,
          status: "warn",
          detail: `version ${info.version} of ${info.current}; the next serve upgrades it in place`,
          fix: "nothing to do; back up the file first if you want a copy of the old schema",
        },
        current: false,
      };
    }
    return {
      result: {
        check,
        status: "fail",
        detail: `version ${info.version} was written by a newer spendguard (this one knows ${info.current})`,
        fix: "upgrade spendguard, or use another SPENDGUARD_HOME",
      },
      current: false,
    };
  } catch (error) {
    return {
      result: {
        check,
        status: "fail",
        detail: `cannot open the database: ${(error as Error).message}`,
        fix: "check the file's owner and permissions; if it is corrupt, move it aside (keep it as evidence) and start again",
      },
      current: false,
    };
  }
}

/** The shared PostgreSQL's schema (`--database`, `SPENDGUARD_DATABASE_URL`). */
async function checkPostgres(
  url: string,
  where: string,
): Promise<{ result: CheckResult; current: boolean }> {
  const check = "database schema";
  let info: { version: number; current: number };
  try {
    info = await inspectPostgres(url, where);
  } catch (error) {
    return {
      result: {
        check,
        status: "fail",
        detail: (error as Error).message,
        fix: "check that PostgreSQL runs and the URL (host, port, user, password, database) is right",
      },
      current: false,
    };
  }
  if (info.version === info.current) {
    return {
      result: { check, status: "pass", detail: `current (version ${info.current}) in ${where}` },
      current: true,
    };
  }
  const newer = info.version > info.current;
  return {
    result: {
      check,
      status: "fail",
      detail: newer
        ? `version ${info.version} was written by a newer spendguard (this one knows ${info.current})`
        : `version ${info.version} of ${info.current}; serve refuses it until it is migrated`,
      fix: newer ? "upgrade spendguard" : "run `spendguard migrate` with the same database URL",
    },
    current: false,
  };
}

function checkKillAll(home: string): CheckResult {
  const flag = join(home, "kill", ALL_SESSIONS);
  return existsSync(flag)
    ? {
        check: "kill switch",
        status: "warn",
        detail: `${flag} is present: every session is refused`,
        fix: `when the emergency is over: rm "${flag}"`,
      }
    : { check: "kill switch", status: "pass", detail: "no kill/ALL flag" };
}

function checkPolicy(file: string | undefined): {
  result: CheckResult;
  policy: LoadedPolicy | undefined;
} {
  const check = "policy";
  if (!file) {
    return {
      result: {
        check,
        status: "fail",
        detail: "no policy given",
        fix: "pass --policy FILE or set SPENDGUARD_POLICY (ready ones are in policies/); --sandbox alone uses policies/support-refunds.yaml",
      },
      policy: undefined,
    };
  }
  try {
    const policy = loadPolicy(file, TOOLS);
    const tools = enabledTools(policy, TOOLS);
    return {
      result: {
        check,
        status: "pass",
        detail: `${policy.name} is valid (${tools.length} tool(s), mode ${policy.policy.mode})`,
      },
      policy,
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      result: {
        check,
        status: "fail",
        detail: error.message.replace(/\n/g, "\n        "),
        fix: `correct the fields named above (policies/README.md documents each); spendguard policy check ${file} re-checks it`,
      },
      policy: undefined,
    };
  }
}

async function checkStripe(
  policy: LoadedPolicy | undefined,
  sandbox: boolean,
  allowSecretKey: boolean,
  env: NodeJS.ProcessEnv,
): Promise<CheckResult[]> {
  const skip = (check: string, why: string): CheckResult => ({
    check,
    status: "skip",
    detail: why,
  });
  const skipAll = (why: string) => [
    skip("Stripe key", why),
    skip("Stripe reachable", why),
    skip("permissions", why),
  ];
  if (!policy) return skipAll("needs a valid policy");
  let source: KeySource;
  try {
    source = await keySource({ sandbox, policy, env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [
      {
        check: "Stripe key",
        status: "fail",
        detail: error.message,
        fix: "use a ready policy with --sandbox, or a real key without it",
      },
      skip("Stripe reachable", "no key"),
      skip("permissions", "no key"),
    ];
  }
  try {
    const results: CheckResult[] = [];
    try {
      const kind = checkStripeKey(source.key, { allowSecretKey, mode: policy.policy.mode });
      results.push({
        check: "Stripe key",
        status: "pass",
        detail: `${source.origin}: a ${kind.kind} ${kind.mode}-mode key, as the policy's mode: ${policy.policy.mode} wants`,
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      results.push({
        check: "Stripe key",
        status: "fail",
        detail: error.message,
        fix: `create a restricted key with the permissions \`spendguard scopes --policy ${policy.file}\` prints and set STRIPE_API_KEY to it (or try --sandbox)`,
      });
      return [
        ...results,
        skip("Stripe reachable", "no usable key"),
        skip("permissions", "no usable key"),
      ];
    }

    const needed = neededPermissions(enabledTools(policy, TOOLS));
    const target = source.baseUrl ?? "api.stripe.com";
    // Reachability: one read the key should be able to make.
    const first: KeyResource =
      needed.find((p) => p.resource === "balance")?.resource ??
      needed.find((p) => PROBED_RESOURCES.includes(p.resource))?.resource ??
      "balance";
    const stripe = probeClient(source);
    const reach = await probe(stripe, first);
    if (reach.status === "unreachable") {
      results.push({
        check: "Stripe reachable",
        status: "fail",
        detail: `cannot reach ${target}: ${reach.detail ?? ""}`,
        fix: source.baseUrl
          ? `check SPENDGUARD_STRIPE_BASE_URL (${source.baseUrl}) and that the server there is running`
          : "check the network, proxy and firewall for https://api.stripe.com",
      });
      return [...results, skip("permissions", "Stripe is not reachable")];
    }
    if (reach.status === "rejected") {
      results.push({
        check: "Stripe reachable",
        status: "fail",
        detail: `${target} answered but refused the key: ${reach.detail ?? ""}`,
        fix: "the key is revoked, expired or mistyped: create a new restricted key and set STRIPE_API_KEY",
      });
      return [...results, skip("permissions", "the key was refused")];
    }
    results.push({
      check: "Stripe reachable",
      status: "pass",
      detail: `${target} answered a read of ${DASHBOARD_NAMES[first]} (${reach.status === "granted" ? "allowed" : "refused for permission, checked below"})`,
    });

    const probed = needed.filter((p) => PROBED_RESOURCES.includes(p.resource));
    const outcomes = await probeAll(
      stripe,
      probed.map((p) => p.resource),
    );
    const missing = outcomes.filter((o) => o.status === "missing").map((o) => o.resource);
    const unclear = outcomes.filter((o) => o.status !== "missing" && o.status !== "granted");
    const writes = needed
      .filter((p) => p.level === "write")
      .map((p) => DASHBOARD_NAMES[p.resource]);
    const notProbed = needed
      .filter((p) => !PROBED_RESOURCES.includes(p.resource))
      .map((p) => DASHBOARD_NAMES[p.resource]);
    const note = [
      writes.length ? `write on ${writes.join(", ")} not probed (only a write could test it)` : "",
      notProbed.length ? `${notProbed.join(", ")} not probed` : "",
    ]
      .filter(Boolean)
      .join("; ");
    if (missing.length > 0) {
      const grant = missing.map((r) => {
        const level = needed.find((p) => p.resource === r)?.level ?? "read";
        return `${DASHBOARD_NAMES[r]} → ${level === "write" ? "Write" : "Read"}`;
      });
      results.push({
        check: "permissions",
        status: "fail",
        detail: `the key lacks ${grant.join(", ")}${note ? `; ${note}` : ""}`,
        fix: `edit the restricted key in the Dashboard and grant ${grant.join(", ")} (spendguard scopes --policy ${policy.file} lists the whole set)`,
      });
    } else if (unclear.length > 0) {
      results.push({
        check: "permissions",
        status: "warn",
        detail: `could not tell for ${unclear.map((o) => `${DASHBOARD_NAMES[o.resource]} (${o.detail ?? o.status})`).join(", ")}`,
        fix: "run doctor again; if it persists, compare the key with `spendguard scopes` in the Dashboard",
      });
    } else {
      results.push({
        check: "permissions",
        status: "pass",
        detail: `read works on ${probed.map((p) => DASHBOARD_NAMES[p.resource]).join(", ") || "nothing needed"}${note ? `; ${note}` : ""}`,
      });
    }
    return results;
  } finally {
    await source.close();
  }
}

async function checkAudit(location: DataLocation): Promise<CheckResult> {
  const store = await openStore(location);
  try {
    const result = await verifyAudit(store);
    return result.ok
      ? { check: "audit chain", status: "pass", detail: `${result.rows} row(s) verified` }
      : {
          check: "audit chain",
          status: "fail",
          detail: `broken at row ${result.brokenAt}: ${result.problem}`,
          fix: "keep a copy of the database as evidence; `spendguard audit verify` and `spendguard audit --json` show the rows around it",
        };
  } finally {
    await store.close();
  }
}

function skipAudit(database: CheckResult): CheckResult {
  return {
    check: "audit chain",
    status: "skip",
    detail:
      database.status === "pass" ? "no database yet, so no audit" : "needs a current database",
  };
}
