import { type ParseArgsConfig, parseArgs } from "node:util";
import { databaseUrl, readEnvironment } from "../config.js";
import { ConfigError } from "../errors.js";
import { parseDuration } from "../policy/load.js";
import type { DataLocation } from "../store/open.js";
import { UsageError } from "./command.js";

/**
 * Flag handling shared by the operator commands, so every command spells and checks the
 * same flags the same way: strict parsing (an unknown flag is a usage error), `--home`
 * over `SPENDGUARD_HOME`, `--since 24h|7d|30m|ISO`, `--limit N`.
 */

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs`, strict, with its complaints turned into usage errors (exit 2). */
export function parseFlags<const O extends Options>(
  argv: string[],
  options: O,
  { positionals = false }: { positionals?: boolean } = {},
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: positionals });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** The `--home DIR` flag every data command accepts. */
export const HOME_FLAG = { home: { type: "string" }, database: { type: "string" } } as const;

/** The home, and `--database` if given, else `SPENDGUARD_DATABASE_URL` (PostgreSQL). */
export function locationOf(
  values: { home?: string | undefined; database?: string | undefined },
  env: NodeJS.ProcessEnv,
): DataLocation {
  return {
    home: homeOf(values.home, env),
    databaseUrl:
      values.database === undefined
        ? readEnvironment(env).databaseUrl
        : databaseUrl("--database", values.database),
  };
}

/** `--home` if given, else `SPENDGUARD_HOME`, else `~/.spendguard` (absolute). */
export function homeOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return readEnvironment(flag === undefined ? env : { ...env, SPENDGUARD_HOME: flag }).home;
}

/** `24h`, `7d`, `30m`, `90s` (before `now`) or an ISO date/time → ms since the epoch. */
export function parseSince(text: string, now = Date.now()): number {
  if (/^\d+[smhd]$/.test(text)) {
    try {
      return now - parseDuration(text);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`--since: ${error.message}`);
      throw error;
    }
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new UsageError(
      `--since must be a duration (30m, 24h, 7d) or an ISO date (2025-06-01, 2025-06-01T09:00:00Z), got '${text}'`,
    );
  }
  return at;
}

/** A non-negative integer flag; `0` can mean "no limit" where the command says so. */
export function parseCount(flag: string, text: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw new UsageError(`--${flag} must be a whole number, got '${text}'`);
  }
  return Number(text);
}

/** One of a fixed set of words, or a usage error listing them. */
export function oneOf<const T extends string>(
  flag: string,
  text: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}; got '${text}'`);
  }
  return text as T;
}

/** `--json` and `--csv` are alternatives. */
export function outputFormat(values: {
  json?: boolean | undefined;
  csv?: boolean | undefined;
}): "table" | "json" | "csv" {
  if (values.json && values.csv) throw new UsageError("give --json or --csv, not both");
  return values.json ? "json" : values.csv ? "csv" : "table";
}
