import type Stripe from "stripe";
import { readEnvironment } from "../config.js";
import { ConfigError } from "../errors.js";
import type { LoadedPolicy } from "../policy/load.js";
import { type Sandbox, startSandbox } from "../sandbox/index.js";
import { createStripeClient } from "../stripe/client.js";
import { describeKey } from "../stripe/keys.js";

/**
 * The key `scopes --check-key` and `doctor` examine: `STRIPE_API_KEY` (and
 * `SPENDGUARD_STRIPE_BASE_URL`), or with `--sandbox` an in-process demo sandbox and its
 * restricted key for the policy's role, as `serve --sandbox` would use.
 */
export interface KeySource {
  key: string | undefined;
  baseUrl: string | undefined;
  /** Where the key came from, for people: `STRIPE_API_KEY (rk_test_…abcd)`. */
  origin: string;
  sandbox: Sandbox | undefined;
  close(): Promise<void>;
}

export async function keySource(options: {
  sandbox: boolean;
  policy: LoadedPolicy;
  env: NodeJS.ProcessEnv;
}): Promise<KeySource> {
  if (options.sandbox) {
    const sandbox = await startSandbox({ port: 0, seed: "demo" });
    const roles = sandbox.keys.roles as Record<string, string>;
    const key = roles[options.policy.name];
    if (!key) {
      await sandbox.close();
      throw new ConfigError(
        `the sandbox has no key for a role named '${options.policy.name}'; its roles are ${Object.keys(roles).join(", ")}. Use one of the ready policies, or check a real key without --sandbox.`,
      );
    }
    return {
      key,
      baseUrl: sandbox.url,
      origin: `the sandbox's ${options.policy.name} key (${describeKey(key)}) at ${sandbox.url}`,
      sandbox,
      close: () => sandbox.close(),
    };
  }
  const env = readEnvironment(options.env);
  return {
    key: env.stripeApiKey,
    baseUrl: env.stripeBaseUrl,
    origin: env.stripeApiKey
      ? `STRIPE_API_KEY (${describeKey(env.stripeApiKey)})${env.stripeBaseUrl ? ` at ${env.stripeBaseUrl}` : ""}`
      : "STRIPE_API_KEY (not set)",
    sandbox: undefined,
    close: async () => {},
  };
}

/** A client for read-only probes: short timeout, no retries (a check should answer fast). */
export function probeClient(source: KeySource): Stripe {
  return createStripeClient({
    apiKey: source.key ?? "",
    ...(source.baseUrl ? { baseUrl: source.baseUrl } : {}),
    timeoutMs: 10_000,
    maxNetworkRetries: 0,
  });
}
