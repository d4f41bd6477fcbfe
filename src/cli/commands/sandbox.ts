import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  ADMIN_KEY,
  type PermissionMap,
  ROLE_KEYS,
  SANDBOX_RESOURCES,
  type SandboxKey,
  type SeedName,
  startSandbox,
} from "../../sandbox/index.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";

const DEFAULT_PORT = 12111;

const USAGE = `Usage: spendguard sandbox [--port ${DEFAULT_PORT}] [--host 127.0.0.1] [--seed demo|empty] [--keys FILE]

Runs a local stand-in for Stripe's API: Stripe's wire format, restricted-key
permissions, idempotency, pagination and error bodies, with seeded demo data and
fault injection. Point spendguard (or the stripe SDK) at the URL it prints:
SPENDGUARD_STRIPE_BASE_URL=http://127.0.0.1:${DEFAULT_PORT}

Options:
  --port N       port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR    address to bind (default 127.0.0.1)
  --seed NAME    demo (two tenants, charges, subscriptions, invoices, disputes) or empty
  --keys FILE    extra keys, a JSON array of
                 { "key": "rk_test_…", "permissions": { "charges": "read", "refunds": "write" } }

The demo keys (an admin sk_test_ key and one rk_test_ key per role) are always
accepted and printed at start. Faults: POST/DELETE /_sandbox/faults; request log:
GET /_sandbox/requests. Stops on Ctrl-C (SIGINT) or SIGTERM.
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
  keysFile: string | undefined;
}

function parseOptions(argv: string[]): Options {
  let values: { port?: string; host?: string; seed?: string; keys?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        seed: { type: "string" },
        keys: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const port = values.port ?? String(DEFAULT_PORT);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new UsageError(`--port must be a port number from 0 to 65535, got '${port}'`);
  }
  const seed = values.seed ?? "demo";
  if (seed !== "demo" && seed !== "empty") {
    throw new UsageError(`--seed must be demo or empty, got '${seed}'`);
  }
  return { port: Number(port), host: values.host ?? "127.0.0.1", seed, keysFile: values.keys };
}

function describePermissions(permissions: PermissionMap | undefined, key: string): string {
  if (!permissions) return key.startsWith("sk_") ? "every permission" : "no permission";
  const grants = Object.entries(permissions).map(([resource, access]) => `${resource}:${access}`);
  return grants.length > 0 ? grants.join(" ") : "no permission";
}

/**
 * Runs the sandbox until `stop` is aborted. Resolves to the exit code: 0 after a clean
 * stop, 1 when it cannot listen, 2 for a bad keys file.
 */
export async function runSandbox(argv: string[], io: CliIO, stop: AbortSignal): Promise<number> {
  const options = parseOptions(argv);
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
    });
  } catch (error) {
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
      `Stripe sandbox listening on ${sandbox.url} (seed: ${options.seed})`,
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

export const sandboxCommand: CliCommand = {
  name: "sandbox",
  summary: "Run a local Stripe sandbox with demo data, for trying spendguard without Stripe",
  usage: USAGE,
  async run(argv, io) {
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
