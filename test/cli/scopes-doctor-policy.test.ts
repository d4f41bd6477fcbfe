import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { freshPostgres, POSTGRES_MISSING } from "../store/stores.js";
import { callTool, POLICIES, runCli, startServer, tempDir } from "./helpers.js";

/** The restricted-key picker, the setup check and the policy validator. */

const policy = (name: string) => join(POLICIES, `${name}.yaml`);

describe("spendguard scopes / doctor / policy check", () => {
  const { dir, cleanup } = tempDir();
  let sandbox: Sandbox;
  /** STRIPE_API_KEY and the base URL of the sandbox in this process, for one role's key. */
  const keyEnv = (role: string) => ({
    STRIPE_API_KEY: (sandbox.keys.roles as Record<string, string>)[role],
    SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
  });
  /** A policy file written for one test. */
  const writePolicy = (name: string, content: Record<string, unknown>) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(content));
    return file;
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, seed: "demo" });
  });
  afterAll(async () => {
    await sandbox.close();
    cleanup();
  });

  describe("scopes", () => {
    it("prints the minimum permissions as the Dashboard names them, a list and the blast radius", async () => {
      const run = await runCli(["scopes", "--policy", policy("support-refunds")]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/RESOURCE +PERMISSION +NEEDED BY\n +Charges +Read +lookup_charge/);
      expect(run.stdout).toMatch(/ +Customers +Read +/);
      expect(run.stdout).toMatch(/ +PaymentIntents +Read +lookup_payment_intent, issue_refund/);
      expect(run.stdout).toMatch(/ +Refunds +Write +issue_refund \(read: lookup_refund\)/);
      expect(run.stdout).toContain("every other resource: None");
      expect(run.stdout).toContain(
        "As a list: charges:read customers:read payment_intents:read refunds:write",
      );
      expect(run.stdout).toContain("Money-moving writes: Refunds: send money back to customers");
      expect(run.stdout).toContain(
        "the policy's caps do: $100.00 per call, $250.00 per session, $1,000.00 per day, $200.00 per customer per day",
      );
      expect(run.stdout).toContain("Warnings: none");
    });

    it("--json for every ready policy; --read-only drops the writes", async () => {
      const [billing, analytics, readOnly] = await Promise.all([
        runCli(["scopes", "--json", "--policy", policy("billing-collections")]),
        runCli(["scopes", "--json", "--policy", policy("analytics-readonly")]),
        runCli(["scopes", "--json", "--read-only", "--policy", policy("support-refunds")]),
      ]);
      const b = JSON.parse(billing.stdout);
      expect(b.list).toEqual([
        "charges:read",
        "customers:read",
        "invoices:write",
        "payment_intents:write",
      ]);
      expect(
        b.blast_radius.money_moving_writes.map((w: { resource: string }) => w.resource),
      ).toEqual(["invoices", "payment_intents"]);
      const a = JSON.parse(analytics.stdout);
      expect(a.list.every((p: string) => p.endsWith(":read"))).toBe(true);
      expect(a.blast_radius.money_moving_writes).toEqual([]);
      const r = JSON.parse(readOnly.stdout);
      expect(r.list).toEqual([
        "charges:read",
        "customers:read",
        "payment_intents:read",
        "refunds:read",
      ]);
    });

    it("warns of refunds write together with a payment write", async () => {
      const file = writePolicy("both-ways", {
        name: "both-ways",
        mode: "test",
        tools: { issue_refund: null, capture_payment_intent: null },
        customers: "all",
      });
      const run = await runCli(["scopes", "--policy", file]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        "Refunds write together with PaymentIntents write: one key can both take money and give it back",
      );
      expect(run.stdout).toContain("no caps (the policy sets none)");
    });

    it("--check-key --sandbox: the demo key for the role is exactly right (exit 0)", async () => {
      const run = await runCli([
        "scopes",
        "--policy",
        policy("support-refunds"),
        "--check-key",
        "--sandbox",
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Refunds +Write +allowed +ok \(read works; write not probed/);
      expect(run.stdout).toMatch(/Balance +None +refused \(403\) +ok/);
      expect(run.stdout).toContain("Missing: none");
      expect(run.stdout).toContain("Excess:  none found");
    });

    it("--check-key lists excess reads of a broader key, by GET probes only (exit 1)", async () => {
      const before = sandbox.requests.length;
      const run = await runCli(
        ["scopes", "--policy", policy("support-refunds"), "--check-key", "--json"],
        { env: keyEnv("analytics-readonly") },
      );
      expect(run.code).toBe(1);
      const check = JSON.parse(run.stdout).check_key;
      expect(check.missing).toEqual([]);
      expect(check.excess.sort()).toEqual([
        "balance:read",
        "disputes:read",
        "invoices:read",
        "subscriptions:read",
      ]);
      expect(check.not_probed).toContain("refunds:write");
      const probes = sandbox.requests.slice(before);
      expect(probes.length).toBeGreaterThanOrEqual(8);
      expect(probes.every((r) => r.method === "GET")).toBe(true);
    });

    it("--check-key lists missing permissions of a narrower key (exit 1)", async () => {
      const run = await runCli(
        ["scopes", "--policy", policy("analytics-readonly"), "--check-key"],
        { env: keyEnv("support-refunds") },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/Balance +Read +refused \(403\) +MISSING: grant Read/);
      expect(run.stdout).toContain(
        "Missing: balance:read disputes:read invoices:read subscriptions:read",
      );
    });

    it("--check-key without a usable key says what to do (exit 1)", async () => {
      const [none, secret] = await Promise.all([
        runCli(["scopes", "--policy", policy("support-refunds"), "--check-key"]),
        runCli(["scopes", "--policy", policy("support-refunds"), "--check-key"], {
          env: { STRIPE_API_KEY: sandbox.keys.admin, SPENDGUARD_STRIPE_BASE_URL: sandbox.url },
        }),
      ]);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain("STRIPE_API_KEY is not set");
      expect(none.stdout).toContain("--sandbox");
      expect(secret.code).toBe(1);
      expect(secret.stdout).toContain("standard secret key (sk_…): it has every permission");
    });

    it("an invalid policy fails with the loader's message (exit 1)", async () => {
      const file = writePolicy("broken", {
        name: "Broken!",
        mode: "test",
        tools: {},
        customers: "all",
      });
      const run = await runCli(["scopes", "--policy", file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`policy ${file} is invalid`);
      expect(run.stderr).toContain(
        `${file}:1: name: expected lower-case letters, digits, - and _, got "Broken!"`,
      );
    });
  });

  describe("doctor", () => {
    it("--sandbox on a fresh data directory: every check passes (exit 0)", async () => {
      const run = await runCli(["doctor", "--sandbox", "--home", join(dir, "fresh")]);
      expect(run.code).toBe(0);
      for (const check of [
        "Node.js",
        "data directory",
        "database schema",
        "kill switch",
        "policy",
        "Stripe key",
        "Stripe reachable",
        "permissions",
      ]) {
        expect(run.stdout).toMatch(new RegExp(`PASS  ${check}: `));
      }
      expect(run.stdout).toContain("SKIP  audit chain: no database yet, so no audit");
      expect(run.stdout).toContain("write on Refunds not probed");
      expect(run.stdout).toContain("All checks passed.");
    });

    it("checks a real data directory's audit chain, and names a broken row with a fix (exit 1)", async () => {
      const home = join(dir, "used");
      const server = await startServer({ sandbox, home });
      try {
        await callTool(server.client, "find_customer", { email: "jane.doe@acme.example" });
        await callTool(server.client, "lookup_charge", { charge: DEMO.charges.acmeLarge });
        await callTool(server.client, "issue_refund", {
          charge: DEMO.charges.acmeSmallA,
          amount: 1000,
          reason: "duplicate",
        });
      } finally {
        await server.close();
      }
      const env = keyEnv("support-refunds");
      const before = sandbox.requests.length;
      const ok = await runCli(["doctor", "--policy", policy("support-refunds"), "--home", home], {
        env,
      });
      expect(ok.code).toBe(0);
      // It probed this sandbox with the key, and only read: nothing written to Stripe.
      const probes = sandbox.requests.slice(before);
      expect(probes.length).toBeGreaterThan(0);
      expect(probes.filter((r) => r.method !== "GET")).toEqual([]);
      expect(ok.stdout).toContain("PASS  audit chain: 3 row(s) verified");
      expect(ok.stdout).toContain("PASS  database schema: current");

      const tampered = join(dir, "tampered");
      cpSync(home, tampered, { recursive: true });
      const db = new Database(join(tampered, "spendguard.db"));
      db.exec("DROP TRIGGER audit_no_update");
      db.prepare("UPDATE audit SET reason = 'nothing to see' WHERE seq = 2").run();
      db.close();
      const broken = await runCli(
        ["doctor", "--policy", policy("support-refunds"), "--home", tampered],
        { env },
      );
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain("FAIL  audit chain: broken at row 2: row 2 was edited");
      expect(broken.stdout).toMatch(/fix: keep a copy of the database as evidence/);
      expect(broken.stdout).toContain("1 check(s) failed.");
    });

    it("names the permissions a key lacks, with the fix (exit 1)", async () => {
      const run = await runCli(
        ["doctor", "--policy", policy("analytics-readonly"), "--home", join(dir, "perm")],
        { env: keyEnv("support-refunds") },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(
        "FAIL  permissions: the key lacks Balance → Read, Disputes → Read, Invoices → Read, Subscriptions → Read",
      );
      expect(run.stdout).toMatch(
        /fix: edit the restricted key in the Dashboard and grant Balance → Read/,
      );
    });

    it("fails each missing piece with a fix: no policy, wrong key, unreachable Stripe", async () => {
      const live = writePolicy("live", {
        name: "support-refunds",
        mode: "live",
        tools: { lookup_charge: null },
        customers: "all",
      });
      const [noPolicy, wrongMode, secret, unreachable, json] = await Promise.all([
        runCli(["doctor", "--home", join(dir, "a")]),
        runCli(["doctor", "--policy", live, "--home", join(dir, "b")], {
          env: keyEnv("support-refunds"),
        }),
        runCli(["doctor", "--policy", policy("support-refunds"), "--home", join(dir, "c")], {
          env: { STRIPE_API_KEY: sandbox.keys.admin, SPENDGUARD_STRIPE_BASE_URL: sandbox.url },
        }),
        runCli(["doctor", "--policy", policy("support-refunds"), "--home", join(dir, "d")], {
          env: {
            STRIPE_API_KEY: "rk_test_unreachable",
            SPENDGUARD_STRIPE_BASE_URL: "http://127.0.0.1:9",
          },
        }),
        runCli(["doctor", "--json", "--home", join(dir, "e")]),
      ]);
      expect(noPolicy.code).toBe(1);
      expect(noPolicy.stdout).toContain("FAIL  policy: no policy given");
      expect(noPolicy.stdout).toContain("fix: pass --policy FILE or set SPENDGUARD_POLICY");
      expect(noPolicy.stdout).toContain("SKIP  Stripe key: needs a valid policy");

      expect(wrongMode.code).toBe(1);
      expect(wrongMode.stdout).toMatch(
        /FAIL {2}Stripe key: .*test-mode key but the policy says mode: live/,
      );

      expect(secret.code).toBe(1);
      expect(secret.stdout).toMatch(/FAIL {2}Stripe key: .*standard secret key/);

      expect(unreachable.code).toBe(1);
      expect(unreachable.stdout).toContain(
        "FAIL  Stripe reachable: cannot reach http://127.0.0.1:9",
      );
      expect(unreachable.stdout).toContain("fix: check SPENDGUARD_STRIPE_BASE_URL");

      const report = JSON.parse(json.stdout);
      expect(json.code).toBe(1);
      expect(report.ok).toBe(false);
      expect(report.checks.map((c: { check: string }) => c.check)).toEqual([
        "Node.js",
        "data directory",
        "database schema",
        "kill switch",
        "policy",
        "Stripe key",
        "Stripe reachable",
        "permissions",
        "audit chain",
      ]);
      expect(report.checks.find((c: { check: string }) => c.check === "policy")).toMatchObject({
        status: "fail",
        fix: expect.stringContaining("--policy FILE"),
      });
    });

    it.skipIf(POSTGRES_MISSING)(
      "with --database: checks the shared PostgreSQL's schema and audit chain, and names an unreachable one without its password (exit 1)",
      async () => {
        const url = await freshPostgres();
        const home = join(dir, "pg");
        const ok = await runCli(["doctor", "--sandbox", "--home", home, "--database", url]);
        expect(ok.code, ok.stdout).toBe(0);
        expect(ok.stdout).toMatch(/PASS {2}database schema: current \(version \d+\) in postgres:/);
        expect(ok.stdout).toContain("PASS  audit chain: 0 row(s) verified");

        const away = await runCli([
          "doctor",
          "--sandbox",
          "--home",
          home,
          "--database",
          "postgres://spendguard:hunter2@127.0.0.1:1/spendguard",
        ]);
        expect(away.code).toBe(1);
        expect(away.stdout).toContain(
          "FAIL  database schema: cannot reach postgres://spendguard:***@127.0.0.1:1/spendguard: connect ECONNREFUSED",
        );
        expect(away.stdout).toContain("SKIP  audit chain: needs a current database");
        expect(away.stdout + away.stderr).not.toContain("hunter2");
      },
    );

    it("warns (exit 0) while a kill/ALL flag refuses every session", async () => {
      const home = join(dir, "halted");
      mkdirSync(join(home, "kill"), { recursive: true, mode: 0o700 });
      writeFileSync(join(home, "kill", "ALL"), "incident\n");
      const run = await runCli(["doctor", "--sandbox", "--home", home]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`WARN  kill switch: ${join(home, "kill", "ALL")} is present`);
      expect(run.stdout).toContain("All checks passed (1 warning(s)).");
    });
  });

  describe("policy check", () => {
    it("prints the effective policy as YAML with every default filled in (exit 0)", async () => {
      const run = await runCli(["policy", "check", policy("support-refunds")]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/is valid \(support-refunds, sha256 [0-9a-f]{12}…\)/);
      const effective = parse(run.stdout);
      expect(effective).toMatchObject({
        name: "support-refunds",
        mode: "test",
        pii: "mask",
        caps: { currency: "usd", per_call: 100, per_session: 250, per_customer_per_day: 200 },
        customers: { metadata: { tenant: "acme" }, allow_no_customer: false, ids: null },
        connected_accounts: [],
        expires_at: null,
      });
      expect(effective.tools.issue_refund).toEqual({
        params: {
          reason: { in: ["duplicate", "requested_by_customer"] },
          refund_fraction: { max: 0.5 },
        },
        calls_per_session: 10,
        calls_per_hour: 20,
      });
      // Defaults from `limits` are spelled out per tool, with where they come from.
      expect(effective.tools.lookup_charge).toEqual({
        params: {},
        calls_per_session: 200,
        calls_per_hour: 600,
      });
      expect(run.stdout).toContain("calls_per_hour: 600 # from limits.calls_per_hour");
    });

    it("shows a tool's own safe default rule; --json carries the sources", async () => {
      const file = writePolicy("cancel", {
        name: "cancel",
        mode: "test",
        tools: { cancel_subscription: null },
        caps: { cancellations_per_session: 2 },
        customers: { ids: ["cus_SgAcmeJaneDoe"] },
      });
      const [yaml, json] = await Promise.all([
        runCli(["policy", "check", file]),
        runCli(["policy", "check", file, "--json"]),
      ]);
      expect(yaml.code).toBe(0);
      expect(yaml.stdout).toContain(
        "at_period_end: { equals: true } # from cancel_subscription default: at_period_end",
      );
      const out = JSON.parse(json.stdout);
      expect(out.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(out.policy.tools.cancel_subscription).toMatchObject({
        kind: "write",
        params: { at_period_end: { equals: true } },
        calls_per_session: null,
        sources: { "params.at_period_end": "cancel_subscription default: at_period_end" },
      });
      expect(out.policy.caps.per_day).toBeNull();
      expect(out.policy.customers.allow_no_customer).toBe(false);
    });

    it("an invalid policy names file, line, field and expectation (exit 1, nothing on stdout)", async () => {
      const file = join(dir, "typo.yaml");
      writeFileSync(
        file,
        "name: typo\nmode: test\ntools:\n  issue_refund:\ncaps:\n  per_dya: 100\ncustomers: all\n",
      );
      const [invalid, missing] = await Promise.all([
        runCli(["policy", "check", file]),
        runCli(["policy", "check", join(dir, "absent.yaml")]),
      ]);
      expect(invalid.code).toBe(1);
      expect(invalid.stdout).toBe("");
      expect(invalid.stderr).toContain(`policy ${file} is invalid`);
      expect(invalid.stderr).toContain(
        `${file}:6: caps.per_dya: unknown field (did you mean per_day?)`,
      );
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("cannot be read: no such file");
    });
  });
});
