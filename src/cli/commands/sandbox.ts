import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { z } from "zod";
import {
  ADMIN_KEY,
  type PermissionMap,
  ROLE_KEYS,
  SANDBOX_RESOURCES,
  type SandboxKey,
  SandboxStateError,
  type SeedName,
  startSandbox,
} from "../../sandbox/index.js";
import { HOME_FLAG, homeOf, parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { planReset, resetHome, sandboxStateFile, stateProblem } from "../sandbox-home.js";

const DEFAULT_PORT = 12111;

const USAGE = `Usage: spendguard sandbox [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--seed demo|empty] [--keys FILE]
                          [--state FILE | --in-memory] [--home DIR]
       spendguard sandbox reset [--home DIR] [--yes]

Runs a local stand-in for Stripe's API: Stripe's wire format, restricted-key
permissions, idempotency, pagination and error bodies, with seeded demo data and
fault injection. Point spendguard (or the stripe SDK) at the URL it prints:
SPENDGUARD_STRIPE_BASE_URL=http://127.0.0.1:${DEFAULT_PORT}

Its Stripe data is kept in the data directory, $SPENDGUARD_HOME/sandbox.json (the
file \`serve --sandbox\` uses there too), so it and spendguard's ledger in the same
directory agree across restarts: written after every change, read back at start
(the seed only makes a new one). It prints where the state lives. One sandbox at a
time runs on a state file.

Options:
  --port N       port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR    address to bind (default 127.0.0.1)
  --seed NAME    what a new state starts with: demo (two tenants, charges,
                 subscriptions, invoices, disputes) or empty
  --keys FILE    extra keys, a JSON array of
                 { "key": "rk_test_…", "permissions": { "charges": "read", "refunds": "write" } }
  --state FILE   keep the state in FILE instead
  --in-memory    keep no state: it is gone when the sandbox stops
  --home DIR     data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

reset: deletes the data directory's sandbox state and its ledger (spendguard.db:
sessions, audit, keys, approvals) together; the next start begins from the seed.
It shows what it deletes and asks first (--yes: do not ask, for scripts). Refused
while a sandbox runs on it, and when the ledger holds a session that did not run
under \`serve --sandbox\` (it may have reached real Stripe).

The demo keys (an admin sk_test_ key and one rk_test_ key per role) are always
accepted and printed at start. Faults: POST/DELETE /_sandbox/faults; the clock:
GET/POST /_sandbox/clock ({"advance_ms": N}); request log: GET /_sandbox/requests.
Stops on Ctrl-C (SIGINT) or SIGTERM.

Exit code: 0 stopped or reset, 1 cannot listen, the state file cannot be used, or
the reset was refused or not confirmed, 2 usage or a bad keys file.
`;

const keysFileSchema = z.array(
  z
    .object({
      key: z
        .string()
        .regex(/^(sk|rk)_test_[A-Za-z0-9_]+$/, "must be a test-mode key: sk_test_… or rk_test_…"),
      permissions: z.partialRecord(z.enum(SANDBOX_RESOURCES), z.enum(["read", "write"])).optional(),
    })
    .strict(),
);

/** A keys file that cannot be used: the message names the file and the field. */
class KeysFileError extends Error {}

async function readKeysFile(file: string): Promise<SandboxKey[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new KeysFileError(`cannot read the keys file ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new KeysFileError(`the keys file ${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = keysFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = issue.path
        .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
        .join("");
      return `  ${field || "(the whole file)"}: ${issue.message}`;
    });
    throw new KeysFileError(`the keys file ${file} is not valid:\n${problems.join("\n")}`);
  }
  return parsed.data;
}

interface Options {
  port: number;
  host: string;
  seed: SeedName;
  /** Whether --seed was given (it does not apply to a restored state). */
  seedGiven: boolean;
  keysFile: string | undefined;
  /** undefined: in memory. */
  stateFile: string | undefined;
  /** The data directory whose sandbox.json is the state, if it is. */
  home: string | undefined;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options {
  const { values } = parseFlags(argv, {
    port: { type: "string" },
    host: { type: "string" },
    seed: { type: "string" },
    keys: { type: "string" },
    state: { type: "string" },
    "in-memory": { type: "boolean" },
    ...HOME_FLAG,
  });
  const port = values.port ?? String(DEFAULT_PORT);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`--port must be a port number from 0 to 65535, got '${port}'`);
  }
  const seed = values.seed ?? "demo";
  if (seed !== "demo" && seed !== "empty") {
    throw new UsageError(`--seed must be demo or empty, got '${seed}'`);
  }
  const elsewhere = (["state", "in-memory", "home"] as const)
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => `--${flag}`);
  if (elsewhere.length > 1) {
    throw new UsageError(
      `give one of --state, --in-memory and --home, not ${elsewhere.join(" and ")}`,
    );
  }
  const home =
    values["in-memory"] || values.state !== undefined ? undefined : homeOf(values.home, env);
  return {
    port: Number(port),
    host: values.host ?? "127.0.0.1",
    seed,
    seedGiven: values.seed !== undefined,
    keysFile: values.keys,
    stateFile:
      values.state !== undefined
        ? resolve(values.state)
        : home === undefined
          ? undefined
          : sandboxStateFile(home),
    home,
  };
}

function describePermissions(permissions: PermissionMap | undefined, key: string): string {
  if (!permissions) return key.startsWith("sk_") ? "every permission" : "no permission";
  const grants = Object.entries(permissions).map(([resource, access]) => `${resource}:${access}`);
  return grants.length > 0 ? grants.join(" ") : "no permission";
}

/**
 * Runs the sandbox until `stop` is aborted. Resolves to the exit code: 0 after a clean
 * stop, 1 when it cannot listen or use its state file, 2 for a bad keys file.
 */
export async function runSandbox(argv: string[], io: CliIO, stop: AbortSignal): Promise<number> {
  const options = parseOptions(argv, io.env);
  let extraKeys: SandboxKey[] = [];
  if (options.keysFile !== undefined) {
    try {
      extraKeys = await readKeysFile(options.keysFile);
    } catch (error) {
      if (!(error instanceof KeysFileError)) throw error;
      io.stderr.write(`spendguard sandbox: ${error.message}\n`);
      return 2;
    }
  }
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox({
      port: options.port,
      host: options.host,
      seed: options.seed,
      keys: extraKeys,
      ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
    });
  } catch (error) {
    if (error instanceof SandboxStateError) {
      io.stderr.write(`spendguard sandbox: ${stateProblem(error, options.home)}\n`);
      return 1;
    }
    io.stderr.write(
      `spendguard sandbox: cannot listen on ${options.host}:${options.port}: ${(error as Error).message}\n`,
    );
    return 1;
  }

  const rows: [string, string, string][] = [
    ["admin", ADMIN_KEY, describePermissions(undefined, ADMIN_KEY)],
    ...Object.entries(ROLE_KEYS).map(
      ([role, { key, permissions }]) =>
        [role, key, describePermissions(permissions, key)] as [string, string, string],
    ),
    ...extraKeys.map(
      ({ key, permissions }) =>
        ["(keys file)", key, describePermissions(permissions, key)] as [string, string, string],
    ),
  ];
  const roleWidth = Math.max(...rows.map(([role]) => role.length));
  const keyWidth = Math.max(...rows.map(([, key]) => key.length));
  io.stdout.write(
    [
      `Stripe sandbox listening on ${sandbox.url}`,
      `State: ${describeState(sandbox.stateFile, sandbox.restored, options)}`,
      "",
      "Keys:",
      ...rows.map(
        ([role, key, grants]) => `  ${role.padEnd(roleWidth)}  ${key.padEnd(keyWidth)}  ${grants}`,
      ),
      "",
      `Use it: SPENDGUARD_STRIPE_BASE_URL=${sandbox.url}`,
      "",
    ].join("\n"),
  );

  if (!stop.aborted) {
    await new Promise((resolve) => stop.addEventListener("abort", resolve, { once: true }));
  }
  await sandbox.close();
  io.stderr.write("spendguard sandbox: stopped\n");
  return 0;
}

function describeState(file: string | undefined, restored: boolean, options: Options): string {
  if (file === undefined) return `in memory, from the ${options.seed} seed (gone when it stops)`;
  const reset =
    options.home === undefined
      ? "delete the file to start over"
      : `\`spendguard sandbox reset --home ${options.home}\` starts over, with the ledger`;
  if (!restored)
    return `${file}, new from the ${options.seed} seed (kept across restarts; ${reset})`;
  const ignored = options.seedGiven ? `; --seed ${options.seed} does not apply to it` : "";
  return `${file}, restored (kept across restarts; ${reset}${ignored})`;
}

/** Asks on the terminal; undefined when there is none to ask on. */
function terminalConfirm(): ((question: string) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await prompt.question(question)).trim());
    } finally {
      prompt.close();
    }
  };
}

/**
 * `spendguard sandbox reset`: the sandbox state and the ledger of one data directory,
 * together. Resolves to the exit code: 0 reset (or nothing to reset), 1 refused or not
 * confirmed.
 */
export async function runSandboxReset(
  argv: string[],
  io: CliIO,
  confirm: ((question: string) => Promise<boolean>) | undefined,
): Promise<number> {
  const { values } = parseFlags(argv, { ...HOME_FLAG, yes: { type: "boolean" } });
  const home = homeOf(values.home, io.env);
  const plan = await planReset(home);
  if (plan.kind === "empty") {
    io.stdout.write(`Nothing to reset: ${home} holds no sandbox state and no ledger.\n`);
    return 0;
  }
  if (plan.kind === "refused") {
    io.stderr.write(`spendguard sandbox reset: ${plan.reason}\nNothing was deleted.\n`);
    return 1;
  }
  io.stdout.write(`This deletes, in ${home}:\n${plan.lines.join("\n")}\n`);
  if (!values.yes) {
    if (!confirm) {
      io.stderr.write(
        "spendguard sandbox reset: nothing was deleted: there is no terminal to ask on; add --yes to reset.\n",
      );
      return 1;
    }
    if (!(await confirm("Reset both? [y/N] "))) {
      io.stderr.write("Nothing was deleted.\n");
      return 1;
    }
  }
  const done = await resetHome(home);
  if (done.kind === "refused") {
    io.stderr.write(`spendguard sandbox reset: ${done.reason}\nNothing was deleted.\n`);
    return 1;
  }
  io.stdout.write(
    `Reset ${home}: the sandbox's Stripe data and the ledger are gone together; the next start begins from the seed.\n`,
  );
  return 0;
}

export const sandboxCommand: CliCommand = {
  name: "sandbox",
  summary: "Run a local Stripe sandbox with demo data, for trying spendguard without Stripe",
  usage: USAGE,
  async run(argv, io) {
    if (argv[0] === "reset") return runSandboxReset(argv.slice(1), io, terminalConfirm());
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      return await runSandbox(argv, io, stop.signal);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
