import { defineConfig } from "vitest/config";

/** What runs again with clients on protocol revision 2026-07-28 (see test/e2e/harness.ts). */
const BOTH_REVISIONS = ["test/e2e/**/*.test.ts", "test/approval/stdio.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests spawn servers and child processes; two cores are the budget.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "2025-11-25", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "2026-07-28",
          include: BOTH_REVISIONS,
          env: { SPENDGUARD_TEST_REVISION: "2026-07-28" },
        },
      },
    ],
  },
});
