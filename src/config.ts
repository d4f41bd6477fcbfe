import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/** The configuration names of the design contract, read in one place. */
export interface Environment {
  /** `STRIPE_API_KEY`: the upstream restricted key. */
  stripeApiKey: string | undefined;
  /** `SPENDGUARD_POLICY`: path of the policy file (or `--policy`). */
  policyFile: string | undefined;
  /** `SPENDGUARD_HOME`: SQLite database and kill flags. */
  home: string;
  /** `SPENDGUARD_DATABASE_URL`: `postgres://…`, the store shared by several hosts. */
  databaseUrl: string | undefined;
  /** `SPENDGUARD_STRIPE_BASE_URL`: Stripe API base URL override. */
  stripeBaseUrl: string | undefined;
  /** `SPENDGUARD_LOG_LEVEL`: pino level; unset, each command picks its own default. */
  logLevel: string | undefined;
  /** `SPENDGUARD_STRIPE_TIMEOUT_MS`: per-request Stripe timeout (default: the client's 20 s). */
  stripeTimeoutMs: number | undefined;
  /** `SPENDGUARD_ALERTS`: path of the alerts file (or `--alerts`). */
  alertsFile: string | undefined;
}

export function readEnvironment(env: NodeJS.ProcessEnv): Environment {
  return {
    stripeApiKey: env.STRIPE_API_KEY || undefined,
    policyFile: env.SPENDGUARD_POLICY || undefined,
    home: resolve(env.SPENDGUARD_HOME || join(homedir(), ".spendguard")),
    databaseUrl: databaseUrl("SPENDGUARD_DATABASE_URL", env.SPENDGUARD_DATABASE_URL),
    stripeBaseUrl: env.SPENDGUARD_STRIPE_BASE_URL || undefined,
    logLevel: env.SPENDGUARD_LOG_LEVEL || undefined,
    stripeTimeoutMs: positiveMs("SPENDGUARD_STRIPE_TIMEOUT_MS", env.SPENDGUARD_STRIPE_TIMEOUT_MS),
    alertsFile: env.SPENDGUARD_ALERTS || undefined,
  };
}

/** What a host name may be, so it is shown and compared as it was meant (no spaces, no controls). */
const HOST_ID = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);

/**
 * `SPENDGUARD_HOST_ID`: the host's identity among the hosts sharing a database, as owner
 * of writes in flight (default: its host name). Unique per machine (per process id
 * namespace: containers sharing a host name need their own).
 */
export function hostId(value: string | undefined): string {
  if (!value) return hostname().slice(0, 64) || "localhost";
  const parsed = HOST_ID.safeParse(value);
  if (!parsed.success) {
    throw new ConfigError(
      `SPENDGUARD_HOST_ID must be 1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit; got ${JSON.stringify(value.slice(0, 80))}`,
    );
  }
  return parsed.data;
}

/** A PostgreSQL URL (`postgres://` or `postgresql://`), or nothing for SQLite. */
export function databaseUrl(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^postgres(ql)?:\/\/./.test(value)) {
    throw new ConfigError(`${name} must be a postgres:// URL, got '${value.split("@").pop()}'`);
  }
  return value;
}

function positiveMs(name: string, value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new ConfigError(`${name} must be a whole number of milliseconds above 0, got ${value}`);
  }
  return ms;
}
