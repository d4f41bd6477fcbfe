import type Stripe from "stripe";
import type { Environment } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { LoadedPolicy } from "../policy/load.js";
import type { Sandbox } from "../sandbox/index.js";
import type { RequestObserver } from "../stripe/attempts.js";
import { createStripeClient } from "../stripe/client.js";
import { checkStripeKey, describeKey } from "../stripe/keys.js";

/**
 * Where sessions reach Stripe: one client per upstream key, in one process. The key
 * stays here; agents only ever hold their spendguard key.
 */
export interface Upstream {
  /** The client for a session under `policy`; a ConfigError when the key does not fit it. */
  clientFor(policy: LoadedPolicy): Stripe;
}

/**
 * `STRIPE_API_KEY` (and `SPENDGUARD_STRIPE_BASE_URL`): one key for every session, checked
 * against each policy's mode. Over HTTP it serves every agent, so it needs the
 * permissions of every policy in use.
 */
export function stripeUpstream(
  env: Environment,
  allowSecretKey: boolean,
  logger: Logger,
  onRequest?: RequestObserver,
): Upstream {
  if (!env.stripeApiKey && env.stripeBaseUrl === undefined) {
    throw new ConfigError(
      "STRIPE_API_KEY is not set. Set it to a restricted key, or pass --sandbox to try spendguard on demo data.",
    );
  }
  // No usable key at all is refused at start-up; whether its mode fits is up to each policy.
  if (env.stripeApiKey) {
    const mode = /^[a-z]{2}_live_/.test(env.stripeApiKey) ? "live" : "test";
    checkStripeKey(env.stripeApiKey, { allowSecretKey, mode });
  }
  let client: Stripe | undefined;
  return {
    clientFor(policy) {
      const kind = checkStripeKey(env.stripeApiKey, { allowSecretKey, mode: policy.policy.mode });
      if (!client) {
        logger.info(
          { key: describeKey(env.stripeApiKey ?? ""), kind: kind.kind, baseUrl: env.stripeBaseUrl },
          "using Stripe",
        );
        client = createStripeClient({
          apiKey: env.stripeApiKey ?? "",
          ...(env.stripeBaseUrl ? { baseUrl: env.stripeBaseUrl } : {}),
          ...(env.stripeTimeoutMs ? { timeoutMs: env.stripeTimeoutMs } : {}),
          ...(onRequest ? { onRequest } : {}),
        });
      }
      return client;
    },
  };
}

/**
 * `--sandbox`: a policy named like a demo role (support-refunds, billing-collections, …)
 * gets that role's restricted key, exactly the permissions its tools need; any other
 * policy gets the sandbox's admin key. Chosen per session, so one HTTP server can serve
 * several roles.
 */
export function sandboxUpstream(
  sandbox: Sandbox,
  logger: Logger,
  onRequest?: RequestObserver,
): Upstream {
  const clients = new Map<string, Stripe>();
  return {
    clientFor(policy) {
      const roleKey = (sandbox.keys.roles as Record<string, string>)[policy.name];
      const apiKey = roleKey ?? sandbox.keys.admin;
      checkStripeKey(apiKey, { allowSecretKey: roleKey === undefined, mode: policy.policy.mode });
      let client = clients.get(apiKey);
      if (!client) {
        logger.info(
          { sandbox: sandbox.url, key: describeKey(apiKey) },
          "using the built-in sandbox",
        );
        client = createStripeClient({
          apiKey,
          baseUrl: sandbox.url,
          ...(onRequest ? { onRequest } : {}),
        });
        clients.set(apiKey, client);
      }
      return client;
    },
  };
}
