import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "./errors.js";

/** The configuration names of the design contract, read in one place. */
export interface Environment {
  /** `STRIPE_API_KEY`: the upstream restricted key. */
  stripeApiKey: string | undefined;
  /** `SPENDGUARD_POLICY`: path of the policy file (or `--policy`). */
  policyFile: string | undefined;
  /** `SPENDGUARD_HOME`: SQLite database and kill flags. */
  home: string;
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
    stripeBaseUrl: env.SPENDGUARD_STRIPE_BASE_URL || undefined,
    logLevel: env.SPENDGUARD_LOG_LEVEL || undefined,
    stripeTimeoutMs: positiveMs("SPENDGUARD_STRIPE_TIMEOUT_MS", env.SPENDGUARD_STRIPE_TIMEOUT_MS),
    alertsFile: env.SPENDGUARD_ALERTS || undefined,
  };
}

function positiveMs(name: string, value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new ConfigError(`${name} must be a whole number of milliseconds above 0, got ${value}`);
  }
  return ms;
}
