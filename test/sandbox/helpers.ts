import Stripe from "stripe";
import { afterEach } from "vitest";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../src/sandbox/index.js";

/**
 * Each test gets its own sandbox on a free port, closed after the test: no shared state,
 * no leftover sockets.
 */
const open: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((sandbox) => sandbox.close()));
});

export async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const started = await startSandbox(options);
  open.push(started);
  return started;
}

/** The official SDK pointed at the sandbox, with no retries unless asked for. */
export function stripeFor(
  box: Sandbox,
  key: string = box.keys.admin,
  config: Partial<Stripe.StripeConfig> = {},
): Stripe {
  return new Stripe(key, {
    host: "127.0.0.1",
    port: box.port,
    protocol: "http",
    maxNetworkRetries: 0,
    telemetry: false,
    ...config,
  });
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error("expected the request to fail, it succeeded");
}

/** A raw HTTP request to the sandbox, for what the SDK would never send. */
export async function raw(
  box: Sandbox,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Headers; json: unknown; text: string }> {
  const response = await fetch(`${box.url}${path}`, {
    method: init.method ?? "GET",
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}
