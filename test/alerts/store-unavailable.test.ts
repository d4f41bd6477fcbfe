import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAlerts } from "../../src/alerts/config.js";
import { AlertService } from "../../src/alerts/service.js";
import { Guard } from "../../src/guard/guard.js";
import { startSession } from "../../src/guard/sessions.js";
import { silentLogger } from "../../src/logger.js";
import { parsePolicy } from "../../src/policy/load.js";
import { observeStore } from "../../src/store/observed.js";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite/store.js";
import { seedWorld, unusedStripe } from "../guard/fixtures/harness.js";
import { tempHome } from "../guard/fixtures/home.js";
import { BASE_POLICY } from "../guard/fixtures/policies.js";
import { FakeWorld, fakeTools } from "../guard/fixtures/tools.js";
import { type Receiver, startReceiver } from "./receiver.js";

/**
 * A store that cannot be reached cannot hold the alert saying so: it goes straight from
 * memory. Here the real guard's writes meet a database another connection keeps locked.
 */

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.close());

describe("store_unavailable", () => {
  it("a locked database: the call is refused, and the alert reaches the receiver without the store", async () => {
    const home = tempHome();
    const raw = openSqliteStore(home, { busyTimeoutMs: 10 });
    const config = parseAlerts(
      `sinks:\n  - name: ops\n    url: ${receiver.url}/ops\nrules:\n  - on: store_unavailable\n    cooldown: 1m\n`,
      "alerts.yaml",
      {},
    );
    const alerts = await AlertService.open({
      config,
      store: raw,
      session: "ops_test",
      logger: silentLogger,
    });
    const store = observeStore(raw, (operation, err) => alerts.storeFailed(operation, err));
    const world = new FakeWorld();
    seedWorld(world);
    const tools = fakeTools(world);
    const policy = parsePolicy(BASE_POLICY, "policy.yaml", tools);
    const session = await startSession(store, { policy });
    const guard = await Guard.open({
      policy,
      store,
      sessionId: session.id,
      stripe: unusedStripe(),
      home,
      tools,
      transport: "stdio",
      afterCall: () => alerts.afterCall(),
    });

    const blocker = new Database(join(home, DATABASE_FILE));
    blocker.exec("BEGIN EXCLUSIVE");
    try {
      const outcome = await guard.call("issue_refund", {
        charge: "ch_usd",
        amount: 1_000,
        reason: "duplicate",
      });
      expect(outcome).toMatchObject({ ok: false, code: "internal_error" });
      const [alert] = await receiver.waitFor(1, (r) => r.path === "/ops", 45_000);
      expect(JSON.parse(alert?.body ?? "")).toMatchObject({
        type: "store_unavailable",
        rule: "rules[0]",
        agent: null,
        // The admission is the first write to meet the lock.
        data: {
          operation: expect.stringMatching(/^(admit|appendAudit)$/),
          code: expect.stringMatching(/^SQLITE_BUSY/),
        },
      });
      // The cool-down holds in memory: a second failure sends nothing more.
      await guard.call("issue_refund", { charge: "ch_usd", amount: 1_100, reason: "duplicate" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received.filter((r) => r.path === "/ops")).toHaveLength(1);
    } finally {
      blocker.exec("ROLLBACK");
      blocker.close();
      await alerts.close();
      await raw.close();
    }
    // Nothing was refunded while the store was down.
    expect(world.writesOf("issue_refund")).toHaveLength(0);
  }, 120_000);
});
