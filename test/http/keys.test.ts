import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkApiKey, createApiKey } from "../../src/keys/api-keys.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { ROOT, runCli, tempHome } from "./harness.js";

/** `spendguard keys`: a key is shown once, only its hash is kept, and revocation sticks. */

let home: ReturnType<typeof tempHome>;
const POLICY = join(ROOT, "policies/support-refunds.yaml");

beforeAll(() => {
  home = tempHome();
});

afterAll(() => home?.cleanup());

const keys = (...args: string[]) => runCli(["keys", ...args, "--home", home.dir]);

describe("spendguard keys", () => {
  it("create prints the key once; the data directory keeps only its hash; list and revoke name it by id", async () => {
    const created = await keys(
      "create",
      "--agent",
      "support-bot",
      "--policy",
      POLICY,
      "--expires",
      "30d",
    );
    expect(created.code).toBe(0);
    const key = /sg_agent_[A-Za-z0-9_-]{43}/.exec(created.stdout)?.[0] ?? "";
    const id = /key_[0-9a-f]{16}/.exec(created.stdout)?.[0] ?? "";
    expect(key).not.toBe("");
    expect(created.stdout).toContain(`policy:  support-refunds (${POLICY})`);
    expect(created.stdout).toContain("shown this once");

    for (const file of readdirSync(home.dir)) {
      if (file.startsWith("spendguard.db")) {
        expect(readFileSync(join(home.dir, file)).includes(key), file).toBe(false);
      }
    }
    const listed = await keys("list");
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+agent\\s+key\\s+support-bot\\s+active`));
    expect(listed.stdout).not.toContain("sg_agent_");
    const json = JSON.parse((await keys("list", "--json")).stdout) as Record<string, unknown>[];
    expect(json[0]).toMatchObject({ id, kind: "agent", name: "support-bot", status: "active" });
    expect(Object.keys(json[0] ?? {})).not.toContain("key_hash");

    expect((await keys("revoke", id)).stdout).toContain(`Revoked key ${id}`);
    expect((await keys("revoke", id)).stdout).toContain("was already revoked");
    expect((await keys("list")).stdout).toMatch(new RegExp(`${id}.*revoked \\d{4}-`));
  });

  it("an operator key, and the mistakes: exit 1 for a bad policy or unknown id, 2 for usage", async () => {
    const operator = await keys("create", "--operator", "--name", "alice", "--json");
    expect(JSON.parse(operator.stdout)).toMatchObject({
      kind: "operator",
      name: "alice",
      policy_file: null,
    });
    expect(JSON.parse(operator.stdout).key).toMatch(/^sg_op_[A-Za-z0-9_-]{43}$/);

    const cases: [string[], number, string][] = [
      [["create", "--agent", "a", "--policy", join(home.dir, "missing.yaml")], 1, "cannot be read"],
      [["create", "--agent", "a"], 2, "needs its policy"],
      [["create", "--agent", "a", "--operator"], 2, "either --agent"],
      [["create", "--operator", "--policy", POLICY], 2, "has no policy"],
      [["create", "--agent", "a", "--policy", POLICY, "--expires", "soon"], 2, "--expires must be"],
      [
        ["create", "--agent", "a", "--policy", POLICY, "--expires", "2001-01-01"],
        2,
        "in the future",
      ],
      [["create", "--agent", "a b", "--policy", POLICY], 1, "not a usable name"],
      [["revoke", "key_0000000000000000"], 1, "no key 'key_0000000000000000'"],
      [["rotate"], 2, "unknown action 'rotate'"],
    ];
    const runs = await Promise.all(cases.map(([args]) => keys(...args)));
    cases.forEach(([args, code, message], i) => {
      expect(runs[i]?.code, args.join(" ")).toBe(code);
      expect(runs[i]?.stderr, args.join(" ")).toContain(message);
    });
  });

  it("serve --http takes its agents from keys, not flags", async () => {
    const run = await runCli(["serve", "--http", "--policy", POLICY], {
      SPENDGUARD_HOME: home.dir,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("each agent's name and policy come from its key");
  });
});

describe("checkApiKey", () => {
  it("accepts the key it made until it expires or is revoked; refuses look-alikes", async () => {
    const store = openSqliteStore(home.dir);
    try {
      const now = Date.now();
      const { record, key } = await createApiKey(store, {
        kind: "agent",
        name: "unit",
        policyFile: POLICY,
        expiresAt: now + 1_000,
        now,
      });
      expect(await checkApiKey(store, key, now)).toMatchObject({
        ok: true,
        key: { id: record.id },
      });
      expect(await checkApiKey(store, key, now + 1_000)).toMatchObject({
        ok: false,
        refusal: "key_expired",
      });
      // Same random part, other kind: not the same key.
      expect(await checkApiKey(store, key.replace("sg_agent_", "sg_op_"), now)).toMatchObject({
        refusal: "key_invalid",
      });
      expect(await checkApiKey(store, `${key.slice(0, -1)}x`, now)).toMatchObject({
        refusal: "key_invalid",
      });
      expect(await checkApiKey(store, undefined, now)).toMatchObject({ refusal: "key_missing" });
      await store.revokeApiKey(record.id, now);
      expect(await checkApiKey(store, key, now)).toMatchObject({
        ok: false,
        refusal: "key_revoked",
      });
    } finally {
      await store.close();
    }
  });
});
