import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "../src/policy/load.js";
import { type DemoRole, ROLE_KEYS } from "../src/sandbox/index.js";
import { TOOLS } from "../tools/index.js";
import type { StripePermissions } from "../tools/tool.js";

/** The ready policies against the real tool registry, and the sandbox keys that go with them. */

const POLICIES = join(import.meta.dirname, "../policies");
const files = readdirSync(POLICIES).filter((f) => f.endsWith(".yaml"));

/** The least a key needs for a policy's tools: write wins over read. */
function neededPermissions(toolNames: string[]): StripePermissions {
  const needed: StripePermissions = {};
  for (const tool of TOOLS.filter((t) => toolNames.includes(t.name))) {
    for (const [resource, level] of Object.entries(tool.permissions)) {
      const key = resource as keyof StripePermissions;
      if (needed[key] !== "write") needed[key] = level;
    }
  }
  return needed;
}

describe("ready policies", () => {
  it("are the five roles of the design contract", () => {
    expect(files.sort()).toEqual(
      [
        "analytics-readonly.yaml",
        "billing-collections.yaml",
        "dispute-handler.yaml",
        "subscription-manager.yaml",
        "support-refunds.yaml",
      ].sort(),
    );
  });

  for (const file of files) {
    it(`${file} loads against the real tools and its sandbox key has exactly what they need`, () => {
      const policy = loadPolicy(join(POLICIES, file), TOOLS);
      expect(`${policy.name}.yaml`).toBe(file);
      const role = ROLE_KEYS[policy.name as DemoRole];
      expect(role.permissions).toEqual(neededPermissions(Object.keys(policy.policy.tools)));
    });
  }
});
