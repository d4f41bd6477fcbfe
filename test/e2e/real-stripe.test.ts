import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, call, errorOf, okOf, ROOT, tempHome } from "./harness.js";

/**
 * The same server against real Stripe, so we know it relies only on Stripe's documented
 * behaviour. It needs a test-mode key (`STRIPE_TEST_KEY=rk_test_…` with read access, or
 * `sk_test_…`) and the network; without a key it is skipped, as on CI and these machines.
 * Reads only: it never moves money, even in test mode.
 */
const key = process.env.STRIPE_TEST_KEY;
const usable = key !== undefined && /^(rk|sk)_test_/.test(key);

describe.runIf(usable)("real Stripe (test mode)", () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  async function connect(): Promise<Client> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        CLI,
        "serve",
        "--policy",
        `${ROOT}/policies/analytics-readonly.yaml`,
        ...(key?.startsWith("sk_") ? ["--allow-secret-key"] : []),
      ],
      env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: key ?? "", SPENDGUARD_HOME: home.dir },
      stderr: "pipe",
    });
    const client = new Client({ name: "real-stripe-test", version: "0.0.0" });
    await client.connect(transport);
    return client;
  }

  it("reads the balance and maps Stripe's own errors", async () => {
    const client = await connect();
    const balance = okOf<{ available: unknown[] }>(await call(client, "get_balance"));
    const missing = errorOf(await call(client, "lookup_charge", { charge: "ch_spendguardNoSuch" }));
    await client.close();
    expect(Array.isArray(balance.available)).toBe(true);
    expect(missing.code).toBe("stripe_error");
    expect(missing.message).toMatch(/No such charge/);
  }, 60_000);
});
