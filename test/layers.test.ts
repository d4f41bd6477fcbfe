import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The one-way layering the README's Layout table states: a folder may import only the
 * folders listed for it. `tools/tool.ts` is the tool contract; other tool files are tools.
 */
const ROOT = resolve(import.meta.dirname, "..");
const ERRORS = "src/errors.ts";
const ALLOWED: Record<string, readonly string[]> = {
  money: [],
  policy: ["money", ERRORS],
  audit: ["money", ERRORS],
  store: ["money", "audit", ERRORS],
  keys: ["money", "audit", "policy", "store", ERRORS],
  approvals: ["money", "audit", "policy", "store", "tool-contract", ERRORS],
  "tool-contract": ["money", "policy", ERRORS],
  tools: ["tool-contract", "money", "policy"],
  alerts: ["money", "audit", "policy", "store", ERRORS, "src/logger.ts", "src/version.ts"],
  metrics: ["money", "audit", "policy", "store", "keys", ERRORS, "src/logger.ts"],
  sandbox: [],
};

function layerOf(path: string): string {
  if (path.startsWith("tools/")) return path === "tools/tool.ts" ? "tool-contract" : "tools";
  return path.match(/^src\/([^/]+)\//)?.[1] ?? path;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

describe("layering", () => {
  it("no folder imports one above it", () => {
    const backward: string[] = [];
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "tools"))]) {
      const from = layerOf(relative(ROOT, file));
      const allowed = ALLOWED[from];
      if (!allowed) continue;
      for (const [, spec] of readFileSync(file, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
        const target = relative(ROOT, resolve(dirname(file), spec ?? "")).replace(/\.js$/, ".ts");
        const to = layerOf(target);
        if (to !== from && !allowed.includes(to))
          backward.push(`${relative(ROOT, file)} → ${spec}`);
      }
    }
    expect(backward).toEqual([]);
  });
});
