import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { callTool, demoHome, runCli, startServer, tempDir } from "./helpers.js";

/** `spendguard sessions` and `spendguard kill`, the latter against live servers. */

describe("spendguard sessions", () => {
  const { dir, cleanup } = tempDir();
  const home = join(dir, "home");

  beforeAll(async () => {
    await demoHome(home);
  });
  afterAll(cleanup);

  it("lists state, agent, calls, spent and what is left of the session cap", async () => {
    const run = await runCli(["sessions", "--home", home]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /SESSION +AGENT +POLICY +STATE +STARTED \(UTC\) +CALLS +DENIED +SPENT +LEFT\nses_\w{24} +support-refunds +support-refunds +killed +\S+ \S+ +14 +3 +\$230\.00 +\$20\.00/,
    );
    expect(run.stdout).toMatch(/ses_\w+ killed by cli: demo: refund backlog under review/);
  });

  it("--json gives the same in minor units, and filters by state and agent", async () => {
    const [all, active, byAgent] = await Promise.all([
      runCli(["sessions", "--json", "--home", home]),
      runCli(["sessions", "--json", "--state", "active", "--home", home]),
      runCli(["sessions", "--json", "--agent", "nobody", "--home", home]),
    ]);
    const sessions = JSON.parse(all.stdout) as Record<string, unknown>[];
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      agent: "support-refunds",
      policy: "support-refunds",
      state: "killed",
      killed_by: "cli",
      kill_reason: "demo: refund backlog under review",
      calls: 14,
      denied: 3,
      spent: 23000,
      per_session: 25000,
      left: 2000,
      cap_currency: "usd",
      policy_known: true,
    });
    expect(JSON.parse(active.stdout)).toEqual([]);
    expect(JSON.parse(byAgent.stdout)).toEqual([]);
  });

  it("shows ? for LEFT when the policy the session ran under is not found", async () => {
    const { cpSync } = await import("node:fs");
    const Database = (await import("better-sqlite3")).default;
    const copy = join(dir, "unknown-policy");
    cpSync(home, copy, { recursive: true });
    const db = new Database(join(copy, "spendguard.db"));
    db.prepare("UPDATE sessions SET policy_hash = ?").run("f".repeat(64));
    db.close();
    const [text, json] = await Promise.all([
      runCli(["sessions", "--home", copy]),
      runCli(["sessions", "--json", "--home", copy]),
    ]);
    expect(text.stdout).toMatch(/\$230\.00 +\?\n/);
    expect(text.stdout).toContain("? = the policy file this session ran under was not found");
    expect(JSON.parse(json.stdout)[0]).toMatchObject({
      spent: 23000,
      left: null,
      policy_known: false,
    });
  });
});

describe("spendguard kill", () => {
  const { dir, cleanup } = tempDir();
  let sandbox: Sandbox;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, seed: "demo" });
  });
  afterAll(async () => {
    await sandbox.close();
    cleanup();
  });

  it("stops a live session on its next call, with nothing reaching Stripe (by id prefix)", async () => {
    const home = join(dir, "one");
    const server = await startServer({ sandbox, home });
    try {
      const status = await callTool(server.client, "session_status");
      if (!status.ok) throw new Error(status.message);
      const id = String(status.data.session_id);
      expect(
        (await callTool(server.client, "lookup_charge", { charge: DEMO.charges.acmeLarge })).ok,
      ).toBe(true);

      const killed = await runCli([
        "kill",
        id.slice(0, 14),
        "--reason",
        "refund loop",
        "--home",
        home,
      ]);
      expect(killed.code).toBe(0);
      expect(killed.stdout).toContain(`Killed session ${id}: its next call is refused`);
      expect(killed.stdout).toContain(`Flag written: ${join(home, "kill", id)}`);
      expect(readFileSync(join(home, "kill", id), "utf8")).toBe("refund loop\n");

      const before = sandbox.requests.length;
      const next = await callTool(server.client, "issue_refund", {
        charge: DEMO.charges.acmeLarge,
        amount: 1000,
        reason: "duplicate",
      });
      expect(next).toMatchObject({ ok: false, code: "session_killed" });
      expect(next.ok ? "" : next.message).toContain("refund loop");
      expect(sandbox.requests.length).toBe(before);

      const sessions = JSON.parse(
        (await runCli(["sessions", "--json", "--home", home])).stdout,
      ) as Record<string, unknown>[];
      expect(sessions[0]).toMatchObject({
        id,
        state: "killed",
        killed_by: "cli",
        kill_reason: "refund loop",
      });

      const again = await runCli(["kill", id, "--home", home]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(
        `Session ${id} is already killed by cli (refund loop): nothing to kill.`,
      );
    } finally {
      await server.close();
    }
  });

  it("--agent kills every active session of that agent; --all also refuses sessions started later", async () => {
    const home = join(dir, "many");
    const a = await startServer({ sandbox, home });
    const b = await startServer({ sandbox, home });
    try {
      const byAgent = await runCli(["kill", "--agent", "support-refunds", "--home", home]);
      expect(byAgent.code).toBe(0);
      expect(byAgent.stdout).toContain("Killed 2 active session(s) of agent 'support-refunds'");
      for (const server of [a, b]) {
        const refused = await callTool(server.client, "lookup_charge", {
          charge: DEMO.charges.acmeLarge,
        });
        expect(refused).toMatchObject({ ok: false, code: "session_killed" });
      }
    } finally {
      await a.close();
      await b.close();
    }

    const all = await runCli(["kill", "--all", "--reason", "incident 42", "--home", home]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("Killed 0 active session(s).");
    expect(all.stdout).toContain(`rm "${join(home, "kill", "ALL")}"`);
    expect(readFileSync(join(home, "kill", "ALL"), "utf8")).toBe("incident 42\n");
    const later = await startServer({ sandbox, home });
    try {
      const refused = await callTool(later.client, "find_customer", {
        email: "jane.doe@acme.example",
      });
      expect(refused).toMatchObject({ ok: false, code: "session_killed" });
      expect(refused.ok ? "" : refused.message).toContain("incident 42");
    } finally {
      await later.close();
    }
  });

  it("an unknown session or agent is a failure that says where to look (exit 1)", async () => {
    const home = join(dir, "many");
    const [session, agent] = await Promise.all([
      runCli(["kill", "ses_000000000000", "--home", home]),
      runCli(["kill", "--agent", "nobody", "--home", home]),
    ]);
    expect(session.code).toBe(1);
    expect(session.stderr).toContain("no session 'ses_000000000000' in this data directory");
    expect(session.stderr).toContain("spendguard sessions");
    expect(agent.code).toBe(1);
    expect(agent.stderr).toContain("no session of agent 'nobody'");
  });

  it("--all works on a data directory no server has used yet", async () => {
    const home = join(dir, "fresh");
    const run = await runCli(["kill", "--all", "--home", home]);
    expect(run.code).toBe(0);
    expect(existsSync(join(home, "kill", "ALL"))).toBe(true);
  });
});
