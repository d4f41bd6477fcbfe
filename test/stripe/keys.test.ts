import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { checkStripeKey, describeKey } from "../../src/stripe/keys.js";
import { CLI, ROOT, tempHome } from "../e2e/harness.js";
import { fakeStripeKey } from "../fake-keys.js";

describe("checkStripeKey", () => {
  const test = { allowSecretKey: false, mode: "test" as const };

  it("accepts a restricted key of the policy's mode", () => {
    expect(checkStripeKey("rk_test_abc123", test)).toEqual({ kind: "restricted", mode: "test" });
    expect(
      checkStripeKey(fakeStripeKey("rk", "live", "abc123"), { ...test, mode: "live" }),
    ).toEqual({
      kind: "restricted",
      mode: "live",
    });
  });

  it("refuses a secret key unless explicitly allowed", () => {
    expect(() => checkStripeKey("sk_test_abc123", test)).toThrow(/--allow-secret-key/);
    expect(checkStripeKey("sk_test_abc123", { ...test, allowSecretKey: true }).kind).toBe("secret");
  });

  it("refuses a key whose mode differs from the policy's", () => {
    expect(() => checkStripeKey(fakeStripeKey("rk", "live", "abc123"), test)).toThrow(
      /live-mode key .* mode: test/,
    );
    expect(() => checkStripeKey("rk_test_abc123", { ...test, mode: "live" })).toThrow(
      /test-mode key/,
    );
  });

  it("refuses what is not a Stripe key, and never echoes a key whole", () => {
    expect(() => checkStripeKey(undefined, test)).toThrow(ConfigError);
    expect(() => checkStripeKey("pk_test_abc123", test)).toThrow(/not a Stripe secret/);
    const refusal = (() => {
      try {
        checkStripeKey(fakeStripeKey("rk", "live", "supersecretvalue9876"), test);
      } catch (error) {
        return String(error);
      }
      throw new Error("a live key under a test-mode policy was accepted");
    })();
    expect(refusal).not.toContain("supersecretvalue");
    expect(refusal).toContain(`${fakeStripeKey("rk", "live", "")}…9876`);
    expect(describeKey("sk_test_abcdefgh1234")).toBe("sk_test_…1234");
  });
});

describe("spendguard serve refuses unsafe keys at start-up", () => {
  const serve = (key: string, ...flags: string[]) => {
    const home = tempHome();
    try {
      return spawnSync(
        process.execPath,
        [CLI, "serve", "--policy", `${ROOT}/policies/support-refunds.yaml`, ...flags],
        {
          env: { PATH: process.env.PATH ?? "", STRIPE_API_KEY: key, SPENDGUARD_HOME: home.dir },
          input: "",
          encoding: "utf8",
          timeout: 15_000,
        },
      );
    } finally {
      home.cleanup();
    }
  };

  it("a standard secret key without --allow-secret-key", () => {
    const run = serve("sk_test_0123456789abcdef");
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/standard secret key/);
    expect(run.stderr).not.toContain("0123456789abcdef");
    expect(run.stdout).toBe("");
  });

  it("a live key under a test-mode policy", () => {
    const run = serve(fakeStripeKey("rk", "live", "0123456789abcdef"));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/live-mode key/);
    expect(run.stderr).not.toContain("0123456789abcdef");
  });
});
