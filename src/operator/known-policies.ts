import { readdirSync } from "node:fs";
import { join } from "node:path";
import { TOOLS } from "../../tools/index.js";
import { type LoadedPolicy, loadPolicy } from "../policy/load.js";
import { PACKAGE_ROOT } from "../version.js";

/**
 * The policies sessions may have run under, by hash (sessions record the hash of the file
 * they started with): the files named, then the ready ones shipped in policies/. What is
 * left of a session's caps needs its policy; a session whose file has changed since, or
 * is not found, has none here.
 */

/** Loads `files` (a broken one throws its ConfigError) and the shipped policies (a broken one is skipped). */
export function knownPolicies(files: readonly string[]): Map<string, LoadedPolicy> {
  const byHash = new Map<string, LoadedPolicy>();
  for (const file of files) {
    const policy = loadPolicy(file, TOOLS);
    byHash.set(policy.hash, policy);
  }
  const dir = join(PACKAGE_ROOT, "policies");
  let shipped: string[] = [];
  try {
    shipped = readdirSync(dir).filter((name) => name.endsWith(".yaml"));
  } catch {
    // An install without policies/: only the files given count.
  }
  for (const name of shipped) {
    try {
      const policy = loadPolicy(join(dir, name), TOOLS);
      if (!byHash.has(policy.hash)) byHash.set(policy.hash, policy);
    } catch {
      // A ready policy this build cannot load is simply not a candidate.
    }
  }
  return byHash;
}

/** The shipped policy files, for choosing one (the console's key form). */
export function shippedPolicyFiles(): string[] {
  const dir = join(PACKAGE_ROOT, "policies");
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(".yaml"))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/**
 * For a long-running view (the console): policies by hash, scanned again (at most every
 * `rescanMs`) when a session names a hash not seen yet, e.g. a key made since with a new
 * policy file. `files` is asked each time: the policy files of the keys as they are now.
 */
export class PolicyIndex {
  private byHash = new Map<string, LoadedPolicy>();
  private scannedAt = Number.NEGATIVE_INFINITY;
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly files: () => Promise<readonly string[]>,
    private readonly rescanMs = 5_000,
  ) {}

  async get(hash: string): Promise<LoadedPolicy | undefined> {
    // A scan under way is waited for: a second caller meanwhile must not see "scanned
    // just now" and go without (metrics collect their gauges concurrently).
    if (this.scanning) await this.scanning;
    const known = this.byHash.get(hash);
    if (known || Date.now() - this.scannedAt < this.rescanMs) return known;
    this.scannedAt = Date.now();
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
    });
    await this.scanning;
    return this.byHash.get(hash);
  }

  private async scan(): Promise<void> {
    const found = new Map<string, LoadedPolicy>();
    for (const file of new Set(await this.files())) {
      try {
        for (const [h, p] of knownPolicies([file])) if (!found.has(h)) found.set(h, p);
      } catch {
        // A key whose policy file is gone or broken: its sessions show no caps.
      }
    }
    if (found.size === 0) for (const [h, p] of knownPolicies([])) found.set(h, p);
    this.byHash = found;
  }
}
