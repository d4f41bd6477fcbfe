import parsePrometheusTextFormat, { type MetricFamily } from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditRecord } from "../../src/store/store.js";
import { startSandbox } from "../e2e/harness.js";
import {
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  outcome,
  policyFile,
  startHttpServer,
  tempHome,
} from "../http/harness.js";

/**
 * /metrics on `serve --http`: after a scripted run by a real MCP client, a scrape parsed
 * by a Prometheus text parser (not a regex) holds the same counts as the audit, on every
 * server on the store.
 */

const TOKEN = "scraper-token-0123456789abcdef";
const LARGE = "ch_SgAcmeLarge500Usd";

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;
let servers: HttpServer[] = [];
let agentKey: CreatedKey;
let operatorKey: CreatedKey;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
  const policy = policyFile(home.dir, "support-refunds");
  [agentKey, operatorKey] = await Promise.all([
    createKey(home.dir, ["--agent", "support-bot", "--policy", policy]),
    createKey(home.dir, ["--operator", "--name", "olivia"]),
  ]);
  const start = () =>
    startHttpServer({
      home: home.dir,
      env: {
        STRIPE_API_KEY: (sandbox.keys.roles as Record<string, string>)["support-refunds"] ?? "",
        SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      },
      args: ["--metrics-token", TOKEN],
    });
  servers = await Promise.all([start(), start()]);
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await sandbox?.close();
  home?.cleanup();
});

/** GET /metrics with `token` as the bearer token (`null`: no Authorization header). */
async function scrape(url: string, token: string | null = TOKEN) {
  return fetch(`${url}/metrics`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
}

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no ${name} in the scrape`);
  return found;
}

/** `labels → value` of one family, labels written `a=x,b=y` in label order. */
function values(families: MetricFamily[], name: string): Record<string, number> {
  return Object.fromEntries(
    family(families, name).metrics.map((m) => [
      Object.entries(m.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      Number(m.value),
    ]),
  );
}

async function audit(): Promise<AuditRecord[]> {
  const store = openSqliteStore(home.dir);
  try {
    return await store.queryAudit({});
  } finally {
    await store.close();
  }
}

describe("/metrics", () => {
  it("counts what the audit holds after a scripted run, on every server on the store", async () => {
    const [first, second] = servers;
    if (!first || !second) throw new Error("servers did not start");
    const agent = await connect(first.url, agentKey.key);
    const operator = await connect(first.url, operatorKey.key);
    let session = "";
    try {
      const status = outcome(await call(agent.client, "session_status"));
      session = status.ok ? String(status.data.session_id) : "";
      expect(outcome(await call(agent.client, "lookup_charge", { charge: LARGE })).ok).toBe(true);
      for (const amount of [2_500, 3_000]) {
        const refund = outcome(
          await call(agent.client, "issue_refund", { charge: LARGE, amount, reason: "duplicate" }),
        );
        expect(refund.ok).toBe(true);
      }
      const denied = outcome(
        await call(agent.client, "issue_refund", {
          charge: LARGE,
          amount: 15_000,
          reason: "duplicate",
        }),
      );
      expect(denied).toMatchObject({ ok: false, code: "cap_per_call" });
      expect(outcome(await call(agent.client, "issue_refund", { charge: 42 })).ok).toBe(false);
      expect(outcome(await call(agent.client, "refund_everything", {})).ok).toBe(false);
      expect(outcome(await call(operator.client, "list_sessions", {})).ok).toBe(true);

      const responses = await Promise.all([scrape(first.url), scrape(second.url)]);
      for (const response of responses) {
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toContain("text/plain");
      }
      const [mine, theirs] = await Promise.all(
        responses.map(async (r) => parsePrometheusTextFormat(await r.text())),
      );
      if (!mine || !theirs) throw new Error("no scrape");

      // Calls by tool and decision, as the audit has them (approval and reconcile rows are
      // decisions about calls, not calls; a made-up tool name is "other").
      const rows = (await audit()).filter((r) => r.rule !== "approval" && r.rule !== "reconcile");
      const expected: Record<string, number> = {};
      for (const row of rows) {
        const tool = row.tool === "refund_everything" ? "other" : row.tool;
        const labels = `tool=${tool},decision=${row.decision}`;
        expected[labels] = (expected[labels] ?? 0) + 1;
      }
      expect(values(mine, "spendguard_tool_calls_total")).toEqual(expected);
      expect(expected).toMatchObject({
        "tool=issue_refund,decision=allow": 2,
        "tool=issue_refund,decision=deny": 1,
        "tool=issue_refund,decision=error": 1,
        "tool=other,decision=error": 1,
        "tool=list_sessions,decision=allow": 1,
      });
      expect(values(mine, "spendguard_denials_total")).toEqual({
        "rule=caps.per_call,code=cap_per_call": 1,
      });

      // Money as Stripe confirmed it, in the currency and the cap currency.
      const moved = rows
        .filter((r) => r.tool === "issue_refund" && r.outcome === "ok")
        .reduce((sum, r) => sum + (r.amount ?? 0), 0);
      expect(moved).toBe(5_500);
      expect(values(mine, "spendguard_money_moved_minor_units_total")).toEqual({
        "agent=support-bot,currency=usd": moved,
      });
      expect(values(mine, "spendguard_money_moved_cap_minor_units_total")).toEqual({
        "agent=support-bot,cap_currency=usd": moved,
      });

      // $55 of the $250 session cap and of the $1,000 day cap.
      expect(values(mine, "spendguard_session_cap_utilization_ratio")).toEqual({
        [`session=${session},agent=support-bot`]: 0.22,
      });
      expect(values(mine, "spendguard_agent_day_cap_utilization_ratio")).toEqual({
        "agent=support-bot": 0.055,
      });
      expect(values(mine, "spendguard_approvals_pending")).toEqual({ "": 0 });
      expect(values(mine, "spendguard_unknown_admissions")).toEqual({ "": 0 });
      expect(values(mine, "spendguard_agents_paused")).toEqual({ "": 0 });

      // Stripe's latency, seen by the process that made the requests: every one answered
      // (this parser keeps the buckets of a labelled histogram, merged across labels).
      const latency = family(mine, "spendguard_stripe_request_duration_seconds");
      expect(latency.type).toBe("HISTOGRAM");
      const buckets = latency.metrics[0]?.buckets ?? {};
      expect(Number(buckets["+Inf"])).toBeGreaterThanOrEqual(3);
      expect(Number(buckets["0.05"])).toBeLessThanOrEqual(Number(buckets["+Inf"]));

      // Every family is spendguard's; the other server reports the same store figures.
      for (const f of mine) expect(f.name).toMatch(/^spendguard_/);
      for (const name of [
        "spendguard_tool_calls_total",
        "spendguard_denials_total",
        "spendguard_money_moved_minor_units_total",
        "spendguard_session_cap_utilization_ratio",
      ]) {
        expect(values(theirs, name), name).toEqual(values(mine, name));
      }
    } finally {
      await agent.close();
      await operator.close();
    }
  }, 90_000);

  it("needs the metrics token or an operator key", async () => {
    const url = servers[0]?.url ?? "";
    const none = await scrape(url, null);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await scrape(url, "not-the-token-at-all-000")).status).toBe(401);
    const agent = await scrape(url, agentKey.key);
    expect(agent.status).toBe(403);
    expect(await agent.text()).toContain("An agent key cannot read metrics");
    expect((await scrape(url, operatorKey.key)).status).toBe(200);
    expect(
      (
        await fetch(`${url}/metrics`, {
          method: "POST",
          headers: { Authorization: `Bearer ${TOKEN}` },
        })
      ).status,
    ).toBe(405);
  });
});
