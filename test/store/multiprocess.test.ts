import { execFile, spawnSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/chain.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { removeTempHomes, tempHome } from "../guard/fixtures/home.js";

/**
 * Several processes (several stdio servers, one per Claude Desktop window) share one
 * SPENDGUARD_HOME and therefore one daily cap. Each fires its calls concurrently; the
 * sum admitted must never exceed the cap, every call must be accounted for, and no error
 * may escape. The workers run the compiled code: dist/ when it is up to date (`npm test`
 * builds first), else a private build, so the shared dist/ is never rewritten under
 * someone else's feet.
 */

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");
const WORKERS = 6;
const CALLS = 25;
const CAP_DOLLARS = 500;

/** Inside the repository, so the build resolves its packages from our node_modules. */
const PRIVATE_BUILD = join(ROOT, "node_modules/.cache/spendguard-multiprocess");

afterAll(removeTempHomes);

let built: string;

beforeAll(() => {
  const fresh = [join(ROOT, "dist"), PRIVATE_BUILD].find((build) => !isStale(build));
  built = fresh ?? PRIVATE_BUILD;
  if (!fresh) {
    // tsc emits even when someone else's file has a type error; only the output matters.
    spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        join(ROOT, "tsconfig.json"),
        "--outDir",
        built,
      ],
      { stdio: "ignore" },
    );
  }
}, 120_000);

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function isStale(build: string): boolean {
  try {
    const builtAt = statSync(join(build, "src/guard/guard.js")).mtimeMs;
    return ["src/guard", "src/store", "tools"].some((dir) => newest(join(ROOT, dir)) > builtAt);
  } catch {
    return true;
  }
}

interface WorkerReport {
  session: string;
  outcomes: { amount: number; code: string; error?: string }[];
}

describe("several processes, one daily cap", () => {
  it(`${WORKERS} processes × ${CALLS} concurrent refunds never exceed per_day together`, async () => {
    const home = tempHome();
    const policyFile = join(home, "policy.yaml");
    writeFileSync(
      policyFile,
      `name: shared-cap\nmode: test\ntools:\n  issue_refund:\ncaps:\n  per_day: ${CAP_DOLLARS}\ncustomers: all\n`,
    );
    const startAt = Date.now() + 1_500;
    const reports = await Promise.all(
      Array.from({ length: WORKERS }, async (_, worker) => {
        const { stdout } = await run(process.execPath, [
          join(import.meta.dirname, "admit-worker.mjs"),
          built,
          home,
          policyFile,
          String(worker),
          String(CALLS),
          String(startAt),
        ]);
        return JSON.parse(stdout) as WorkerReport;
      }),
    );

    const outcomes = reports.flatMap((report) => report.outcomes);
    expect(outcomes).toHaveLength(WORKERS * CALLS); // every call answered
    const codes = new Set(outcomes.map((o) => o.code));
    expect([...codes].filter((code) => code !== "ok" && code !== "cap_day")).toEqual([]); // nothing escaped
    const admitted = outcomes.filter((o) => o.code === "ok");
    const admittedCents = admitted.reduce((sum, o) => sum + o.amount, 0);
    expect(admittedCents).toBeLessThanOrEqual(CAP_DOLLARS * 100);
    // The cap was really contended: what was refused could not have fitted.
    const smallestRefused = Math.min(
      ...outcomes.filter((o) => o.code === "cap_day").map((o) => o.amount),
    );
    expect(admittedCents + smallestRefused).toBeGreaterThan(CAP_DOLLARS * 100);

    const store = openSqliteStore(home);
    try {
      // The ledger agrees with what the agents were told, to the cent, and lost nothing.
      const ledger = await store.listAdmissions({});
      expect(ledger.map((a) => a.state)).toEqual(admitted.map(() => "settled"));
      expect(ledger.reduce((sum, a) => sum + a.amount_cap, 0)).toBe(admittedCents);
      const sessions = new Set(reports.map((r) => r.session));
      expect((await store.listSessions({})).filter((s) => sessions.has(s.id))).toHaveLength(
        WORKERS,
      );
      // One audit row per call, every process's rows in one unbroken chain.
      expect(await verifyAudit(store)).toEqual({ ok: true, rows: WORKERS * CALLS });
    } finally {
      await store.close();
    }
  }, 60_000);
});
