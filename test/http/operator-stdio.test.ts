import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { connectOperatorStdio, connectStdio } from "../e2e/harness.js";
import { call, outcome, ROOT, runCli, tempHome } from "./harness.js";

/**
 * `spendguard serve --operator`: the operator tools over stdio, in a process beside an
 * agent's stdio server on the same data directory, with no Stripe key. A kill from it
 * stops the agent's next call; every operator call is one audit row.
 */

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let operator: Client;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  operator = await connectOperatorStdio(home.dir);
});

afterAll(async () => {
  await operator?.close();
  await sandbox?.close();
  home?.cleanup();
});

describe("serve --operator (stdio)", () => {
  it("lists only the operator tools; their schemas change only by a reviewed diff", async () => {
    const { tools } = await operator.listTools();
    expect(tools.map((t) => t.name)).toEqual([
      "list_sessions",
      "kill_session",
      "kill_agent",
      "kill_all",
      "spend_summary",
      "list_pending_approvals",
      "approve",
      "reject",
      "list_unresolved",
      "resolve_admission",
      "resume_agent",
    ]);
    await expect(JSON.stringify(tools, null, 2)).toMatchFileSnapshot(
      "__snapshots__/operator-tools.json",
    );
  });

  it("kills a stdio agent's session: its next call is refused before reaching Stripe; the kill is audited", async () => {
    const agent = await connectStdio({
      policy: join(ROOT, "policies/support-refunds.yaml"),
      home: home.dir,
      sandbox,
      key: sandbox.keys.roles["support-refunds"],
    });
    expect(
      outcome(
        await call(agent.client, "issue_refund", {
          charge: DEMO.charges.acmeLarge,
          amount: 1500,
          reason: "duplicate",
        }),
      ).ok,
    ).toBe(true);

    const listed = outcome(await call(operator, "list_sessions", {}));
    if (!listed.ok) throw new Error(listed.message);
    const [session] = listed.data.sessions as { session_id: string; key_id: string | null }[];
    expect(session?.key_id).toBeNull();

    const summary = outcome(await call(operator, "spend_summary", { by: "agent" }));
    const report = await runCli(["report", "--json", "--home", home.dir]);
    if (!summary.ok) throw new Error(summary.message);
    // The report also counts the spend_summary call itself (operator rows are audited too).
    const agentGroup = (groups: unknown) =>
      (groups as { key: string }[]).find((g) => g.key === "support-refunds");
    expect(agentGroup(summary.data.groups)).toEqual(agentGroup(JSON.parse(report.stdout).groups));
    expect(agentGroup(summary.data.groups)).toMatchObject({ calls: 1, ok: 1 });

    const requests = sandbox.requests.length;
    const killed = outcome(
      await call(operator, "kill_session", { session_id: session?.session_id, reason: "audit" }),
    );
    expect(killed).toMatchObject({ ok: true, data: { killed: true } });
    expect(
      outcome(await call(agent.client, "lookup_charge", { charge: DEMO.charges.acmeLarge })),
    ).toMatchObject({
      ok: false,
      code: "session_killed",
    });
    expect(sandbox.requests.length).toBe(requests);
    await agent.close();

    const again = outcome(
      await call(operator, "kill_session", { session_id: session?.session_id, reason: "again" }),
    );
    expect(again).toMatchObject({ ok: true, data: { killed: false, state: "killed" } });
    const unknown = outcome(
      await call(operator, "kill_session", { session_id: `ses_${"0".repeat(24)}`, reason: "x" }),
    );
    expect(unknown).toMatchObject({ ok: false, code: "unknown_session" });
    const invalid = outcome(await call(operator, "kill_agent", { agent: "x" }));
    expect(invalid).toMatchObject({ ok: false, code: "invalid_input" });

    const store = openSqliteStore(home.dir);
    try {
      expect(await store.getSession(session?.session_id ?? "")).toMatchObject({
        state: "killed",
        killed_by: "operator:stdio",
        kill_reason: "audit",
      });
      const rows = await store.queryAudit({ agent: "operator:stdio" });
      expect(rows.map((r) => [r.tool, r.decision, r.code])).toEqual([
        ["list_sessions", "allow", null],
        ["spend_summary", "allow", null],
        ["kill_session", "allow", null],
        ["kill_session", "allow", null],
        ["kill_session", "error", "unknown_session"],
        ["kill_agent", "error", "invalid_input"],
      ]);
    } finally {
      await store.close();
    }
    expect((await runCli(["audit", "verify", "--home", home.dir])).code).toBe(0);
  });

  it("takes no agent flags", async () => {
    const run = await runCli(["serve", "--operator", "--policy", "x.yaml"], {
      SPENDGUARD_HOME: home.dir,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("serve --operator takes no --policy");
  });
});
