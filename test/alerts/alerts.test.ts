import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Sandbox } from "../../src/sandbox/index.js";
import { runCli } from "../cli/helpers.js";
import {
  call,
  connectStdio,
  errorOf,
  okOf,
  policyFile,
  startSandbox,
  tempHome,
} from "../e2e/harness.js";
import { type Received, type Receiver, startReceiver, verifySignature } from "./receiver.js";
import { slackWebhookMessage } from "./slack-shape.js";

/**
 * Alerts end to end: the built server over stdio with an alerts file, driven by the MCP
 * SDK's client against the sandbox, sending to a real HTTP receiver on 127.0.0.1.
 */

const SECRET = randomBytes(24).toString("hex");
const AGENT = "support-refunds";
const LARGE = "ch_SgAcmeLarge500Usd";

let sandbox: Sandbox;
let receiver: Receiver;
let home: ReturnType<typeof tempHome>;
let policy: string;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await sandbox?.close();
});
beforeEach(() => {
  home = tempHome();
  policy = policyFile(home.dir, AGENT);
  receiver.status = 200;
});
afterEach(() => home?.cleanup());

function alertsFile(rules: Record<string, unknown>[]): string {
  const file = join(home.dir, "alerts.yaml");
  writeFileSync(
    file,
    stringify({
      sinks: [
        {
          name: "ops",
          url: `${receiver.url}/ops`,
          format: "json",
          secret_env: "TEST_ALERT_SECRET",
        },
        { name: "chat", url: `${receiver.url}/slack/T000/B000/XXXX`, format: "slack" },
      ],
      rules,
      delivery: { retry_after: "1s", max_retry_after: "2s" },
    }),
  );
  return file;
}

function agent(alerts: string) {
  return connectStdio({
    policy,
    home: home.dir,
    sandbox,
    key: (sandbox.keys.roles as Record<string, string>)[AGENT] ?? "",
    env: { SPENDGUARD_ALERTS: alerts, TEST_ALERT_SECRET: SECRET, SPENDGUARD_LOG_LEVEL: "warn" },
  });
}

const cli = (args: string[]) =>
  runCli([...args, "--home", home.dir], { env: { TEST_ALERT_SECRET: SECRET } });

interface JsonAlert {
  id: string;
  type: string;
  created: string;
  rule: string;
  action?: string;
  agent: string | null;
  summary: string;
  data: Record<string, string | number | null>;
}

const bodyOf = (r: Received) => JSON.parse(r.body) as JsonAlert;
const fresh = (since: number, path: string) => (r: Received) =>
  r.at >= since && r.path.startsWith(path);

describe("alerts", () => {
  it("a cap denial reaches each sink within 2 s: signed JSON with ids, amounts, codes and reasons, and a Slack message of Slack's shape; a kill from the CLI too", async () => {
    const file = alertsFile([
      { on: "cap_denied", cooldown: "5m" },
      { on: "kill", sinks: ["ops"] },
    ]);
    const server = await agent(file);
    try {
      const since = Date.now();
      const denied = errorOf(
        await call(server.client, "issue_refund", {
          charge: LARGE,
          amount: 15_000,
          reason: "duplicate",
        }),
      );
      const answered = Date.now();
      expect(denied.code).toBe("cap_per_call");

      const [json] = await receiver.waitFor(1, fresh(since, "/ops"));
      const [slack] = await receiver.waitFor(1, fresh(since, "/slack"));
      if (!json || !slack) throw new Error("no deliveries");
      expect(json.at - answered).toBeLessThan(2_000);

      // Stripe's scheme: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
      const signature = String(json.headers["spendguard-signature"]);
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(signature, json.body, SECRET)).toBe(true);
      expect(verifySignature(signature, json.body, "another secret")).toBe(false);
      expect(verifySignature(signature, json.body.replace("15000", "1"), SECRET)).toBe(false);
      expect(slack.headers["spendguard-signature"]).toBeUndefined();

      const [row] = JSON.parse(
        `[${(await cli(["audit", "--decision", "deny", "--json"])).stdout.trim().split("\n").join(",")}]`,
      ) as { seq: number; session: string }[];
      const alert = bodyOf(json);
      expect(alert).toMatchObject({
        id: expect.stringMatching(/^alr_[0-9a-f]{24}$/),
        type: "cap_denied",
        rule: "rules[0]",
        agent: AGENT,
        data: {
          audit_seq: row?.seq,
          session: row?.session,
          tool: "issue_refund",
          code: "cap_per_call",
          rule: "caps.per_call",
          amount: 15_000,
          currency: "usd",
          amount_cap: 15_000,
          cap_currency: "usd",
          customer: "cus_SgAcmeJaneDoe",
        },
      });
      expect(alert.data.reason).toContain("per-call cap");
      expect(alert.summary).toBe(
        `${AGENT}: issue_refund of $150.00 refused by caps.per_call (cap_per_call)`,
      );
      // No secret of any kind, and nothing about the customer beyond the audit's id.
      const key = (sandbox.keys.roles as Record<string, string>)[AGENT] ?? "";
      for (const r of [json, slack]) {
        expect(r.body).not.toContain(SECRET);
        expect(r.body).not.toContain(key);
        expect(r.body).not.toMatch(/@|Jane Doe/);
      }

      const message = slackWebhookMessage.parse(JSON.parse(slack.body));
      expect(message.text).toContain("cap denied");
      expect(JSON.stringify(message.blocks)).toContain("cap_per_call");

      // The same rule again within its cool-down: recorded, not sent again.
      errorOf(
        await call(server.client, "issue_refund", {
          charge: LARGE,
          amount: 16_000,
          reason: "duplicate",
        }),
      );
      const listed = await cli(["alerts", "--json"]);
      const deliveries = listed.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { type: string; sink: string });
      expect(
        deliveries
          .filter((d) => d.type === "cap_denied")
          .map((d) => d.sink)
          .sort(),
      ).toEqual(["chat", "ops"]);

      // A kill from the CLI (no audit row of its own) is seen in the sessions table.
      const killSince = Date.now();
      expect((await cli(["kill", "--agent", AGENT, "--reason", "incident 7"])).code).toBe(0);
      const [killed] = await receiver.waitFor(
        1,
        (r) => fresh(killSince, "/ops")(r) && bodyOf(r).type === "kill",
      );
      expect(bodyOf(killed as Received)).toMatchObject({
        agent: AGENT,
        data: { killed_by: "cli", reason: "incident 7", sessions: row?.session },
      });
    } finally {
      await server.close();
    }
  }, 90_000);

  it("a velocity rule with pause stops a looping agent on the call after the threshold, refuses its new sessions until resumed", async () => {
    const file = alertsFile([
      { on: "velocity", window: "10m", max_calls: 3, action: "pause", sinks: ["ops"] },
    ]);
    const since = Date.now();
    const looping = await agent(file);
    let pausedSession = "";
    try {
      pausedSession = okOf<{ session_id: string }>(
        await call(looping.client, "session_status"),
      ).session_id;
      for (const amount of [100, 101, 102]) {
        okOf(
          await call(looping.client, "issue_refund", {
            charge: LARGE,
            amount,
            reason: "duplicate",
          }),
        );
      }
      const stopped = errorOf(
        await call(looping.client, "issue_refund", {
          charge: LARGE,
          amount: 103,
          reason: "duplicate",
        }),
      );
      expect(stopped.code).toBe("session_killed");
      expect(stopped.message).toContain("auto-pause: 3 money-moving call(s)");
    } finally {
      await looping.close();
    }

    const [paused] = await receiver.waitFor(
      1,
      (r) => fresh(since, "/ops")(r) && bodyOf(r).type === "velocity",
    );
    expect(bodyOf(paused as Received)).toMatchObject({
      type: "velocity",
      action: "pause",
      agent: AGENT,
      data: {
        calls: 3,
        amount_cap: 303,
        cap_currency: "usd",
        sessions: pausedSession,
        window: "10m",
      },
    });

    // A new session of the paused agent is refused from its first call.
    const next = await agent(file);
    try {
      const refused = errorOf(await call(next.client, "lookup_charge", { charge: LARGE }));
      expect(refused.code).toBe("session_killed");
      expect(refused.message).toContain("auto-pause");
    } finally {
      await next.close();
    }

    const resumed = await cli(["resume", "--agent", AGENT, "--reason", "loop fixed"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await cli(["resume", "--agent", AGENT])).code).toBe(1);

    const after = await agent(file);
    try {
      okOf(await call(after.client, "lookup_charge", { charge: LARGE }));
      // Only calls since the resume count: one refund is far from the threshold.
      okOf(
        await call(after.client, "issue_refund", {
          charge: LARGE,
          amount: 104,
          reason: "duplicate",
        }),
      );
    } finally {
      await after.close();
    }

    const audit = (await cli(["audit", "--json"])).stdout
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as { agent: string; tool: string; decision: string; outcome: string },
      );
    expect(audit.filter((r) => r.tool === "issue_refund" && r.outcome === "ok")).toHaveLength(4);
    expect(audit.filter((r) => r.tool === "pause_agent" || r.tool === "resume_agent")).toEqual([
      expect.objectContaining({ agent: "operator:auto-pause", tool: "pause_agent" }),
      expect.objectContaining({ agent: "operator:cli", tool: "resume_agent" }),
    ]);
  }, 120_000);

  it("a receiver that answers 500 gets the delivery once it is back, across a restart of spendguard", async () => {
    const file = alertsFile([{ on: "cap_denied", sinks: ["ops"] }]);
    receiver.status = 500;
    const since = Date.now();
    const first = await agent(file);
    try {
      errorOf(
        await call(first.client, "issue_refund", {
          charge: LARGE,
          amount: 15_000,
          reason: "duplicate",
        }),
      );
      await receiver.waitFor(1, fresh(since, "/ops"));
    } finally {
      await first.close();
    }
    const pending = JSON.parse((await cli(["alerts", "--json"])).stdout.trim()) as {
      alert: string;
      status: string;
      attempts: number;
      last_status: number;
    };
    expect(pending).toMatchObject({ status: "pending", last_status: 500 });
    expect(pending.attempts).toBeGreaterThanOrEqual(1);
    const table = await cli(["alerts", "--alerts", file]);
    expect(table.stdout).toMatch(
      /cap_denied\s+rules\[0\]\s+ops http:\/\/127\.0\.0\.1:\d+\/…\s+pending/,
    );
    expect(table.stdout).not.toContain("/ops");

    receiver.status = 200;
    const second = await agent(file);
    try {
      const delivered = await receiver.waitFor(
        1,
        (r) => r.answered === 200 && r.path === "/ops" && bodyOf(r).id === pending.alert,
        15_000,
      );
      expect(bodyOf(delivered[0] as Received).type).toBe("cap_denied");
      // One more poll: it is not sent again.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(
        receiver.received.filter((r) => r.answered === 200 && bodyOf(r).id === pending.alert),
      ).toHaveLength(1);
    } finally {
      await second.close();
    }
    const done = JSON.parse((await cli(["alerts", "--json"])).stdout.trim()) as {
      status: string;
      tries: { status: number }[];
    };
    expect(done.status).toBe("delivered");
    expect(done.tries.at(-1)?.status).toBe(200);
    expect(done.tries.slice(0, -1).every((t) => t.status === 500)).toBe(true);
  }, 120_000);

  it("alerts test sends to every sink and says what each answered; a bad alerts file names the field", async () => {
    const file = alertsFile([{ on: "cap_denied" }]);
    const since = Date.now();
    const run = await cli(["alerts", "test", "--alerts", file]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^ok {6}ops \(json, http:\/\/127\.0\.0\.1:\d+\/…, signed\): HTTP 200/m,
    );
    expect(run.stdout).toMatch(/^ok {6}chat \(slack, http:\/\/127\.0\.0\.1:\d+\/…\): HTTP 200/m);
    expect(run.stdout).not.toContain("XXXX");
    const [json] = await receiver.waitFor(1, fresh(since, "/ops"));
    const [slack] = await receiver.waitFor(1, fresh(since, "/slack"));
    expect(bodyOf(json as Received).type).toBe("test");
    expect(
      verifySignature(String(json?.headers["spendguard-signature"]), json?.body ?? "", SECRET),
    ).toBe(true);
    slackWebhookMessage.parse(JSON.parse(slack?.body ?? ""));

    receiver.status = 503;
    const down = await cli(["alerts", "test", "--alerts", file]);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain("FAILED  ops");
    expect(down.stdout).toContain("HTTP 503");

    const bad = join(home.dir, "bad.yaml");
    writeFileSync(
      bad,
      stringify({
        sinks: [{ name: "ops", url: "ftp://x", format: "teams" }],
        rules: [
          { on: "velocity", sinks: ["pager"] },
          { on: "kill", window: "5m" },
        ],
      }),
    );
    const invalid = await cli(["alerts", "test", "--alerts", bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(`alerts file ${bad} is invalid:`);
    expect(invalid.stderr).toMatch(
      /bad\.yaml:\d+: sinks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/,
    );
    expect(invalid.stderr).toMatch(/sinks\[0\]\.format: expected "json" or "slack", got "teams"/);

    const crossed = join(home.dir, "crossed.yaml");
    writeFileSync(
      crossed,
      stringify({
        sinks: [{ name: "ops", url: "https://example.invalid/x", secret_env: "NOT_SET_ANYWHERE" }],
        rules: [
          { on: "velocity", sinks: ["pager"] },
          { on: "kill", window: "5m" },
        ],
      }),
    );
    const crossedRun = await cli(["alerts", "test", "--alerts", crossed]);
    expect(crossedRun.code).toBe(1);
    expect(crossedRun.stderr).toMatch(
      /sinks\[0\]\.secret_env: the environment variable NOT_SET_ANYWHERE is not set/,
    );
    expect(crossedRun.stderr).toMatch(
      /rules\[0\]\.sinks\[0\]: no sink named "pager"; expected one of: ops/,
    );
    expect(crossedRun.stderr).toMatch(/rules\[0\]\.window: required field is missing/);
    expect(crossedRun.stderr).toMatch(
      /rules\[0\]\.max_calls: a velocity rule needs max_calls, max_amount or both/,
    );
    expect(crossedRun.stderr).toMatch(
      /rules\[1\]\.window: only a velocity rule has window \(this rule is on: kill\)/,
    );
  }, 90_000);
});
