import Stripe from "stripe";
import { ConfigError } from "../errors.js";
import { VERSION } from "../version.js";
import { type RequestObserver, recordingAttempts } from "./attempts.js";

export interface StripeClientOptions {
  apiKey: string;
  /** `SPENDGUARD_STRIPE_BASE_URL`: the sandbox, a test emulator or an egress proxy. */
  baseUrl?: string;
  /** Per-request timeout; a refund that outlives it becomes `unknown`, not failed. */
  timeoutMs?: number;
  /** Retries on network errors, 409, 429 and 5xx, always with the same idempotency key. */
  maxNetworkRetries?: number;
  /** Told of every HTTP request (each retry too): its time and status (`null`: no answer). */
  onRequest?: RequestObserver;
}

/** The one place a Stripe SDK client is configured. The key has been checked by `checkStripeKey`. */
export function createStripeClient(options: StripeClientOptions): Stripe {
  return recordingAttempts(
    options.onRequest,
    (httpClient) =>
      new Stripe(options.apiKey, {
        ...(options.baseUrl ? hostOptions(options.baseUrl) : {}),
        timeout: options.timeoutMs ?? 20_000,
        maxNetworkRetries: options.maxNetworkRetries ?? 2,
        telemetry: false,
        appInfo: { name: "spendguard", version: VERSION },
        httpClient,
      }),
  );
}

function hostOptions(baseUrl: string): Pick<Stripe.StripeConfig, "host" | "port" | "protocol"> {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigError(
      `SPENDGUARD_STRIPE_BASE_URL (${baseUrl}) is not a URL; expected e.g. http://127.0.0.1:12111`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`SPENDGUARD_STRIPE_BASE_URL must be http:// or https://, got ${baseUrl}`);
  }
  const protocol = url.protocol === "http:" ? "http" : "https";
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : protocol === "http" ? 80 : 443,
    protocol,
  };
}
