import { readdirSync } from "node:fs";
import { join } from "node:path";
import { TOOLS } from "../../tools/index.js";
import { type LoadedPolicy, loadPolicy } from "../policy/load.js";
import type { Store } from "../store/store.js";
import { PACKAGE_ROOT } from "../version.js";

/**
 * Finding the policy a session ran under by the hash it recorded (its caps are what
 * `sessions` LEFT and the utilization gauges need): among files given, and the ready
 * policies shipped in policies/.
 */

/** Adds the shipped ready policies to `byHash` (not replacing any already there). */
export function addShippedPolicies(byHash: Map<string, LoadedPolicy>): Map<string, LoadedPolicy> {
  const dir = join(PACKAGE_ROOT, "policies");
  let shipped: string[] = [];
  try {
    shipped = readdirSync(dir).filter((name) => name.endsWith(".yaml"));
  } catch {
    // An install without policies/: only the files given count.
  }
  for (const name of shipped) addPolicyFile(byHash, join(dir, name));
  return byHash;
}

/** Adds the policy in `file` if it loads; a file this build cannot load is no candidate. */
export function addPolicyFile(byHash: Map<string, LoadedPolicy>, file: string): void {
  try {
    const policy = loadPolicy(file, TOOLS);
    if (!byHash.has(policy.hash)) byHash.set(policy.hash, policy);
  } catch {
    // Not a candidate.
  }
}

/** How long a miss waits before the policy files are read again. */
const RELOAD_AFTER_MS = 10_000;

/**
 * The policy behind a hash, among the agent keys' policy files and the shipped ones: what
 * a long-running server needs for sessions it did not open itself. Read again (at most
 * every 10 s) when a hash is not found, since keys and files change while it runs.
 */
export function keyPolicyFinder(store: Store): (hash: string) => LoadedPolicy | undefined {
  let byHash = new Map<string, LoadedPolicy>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  return (hash) => {
    const now = Date.now();
    if (!byHash.has(hash) && now - loadedAt >= RELOAD_AFTER_MS) {
      const next = new Map<string, LoadedPolicy>();
      for (const key of store.listApiKeys()) {
        if (key.policy_file) addPolicyFile(next, key.policy_file);
      }
      byHash = addShippedPolicies(next);
      loadedAt = now;
    }
    return byHash.get(hash);
  };
}
