import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallToolResult, Client, Tool } from "@modelcontextprotocol/client";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { verifyAudit } from "../../src/audit/chain.js";
import { DENY_CODES } from "../../src/errors.js";
import {
  agentInputSchema,
  agentOutputSchema,
  malformedTextAt,
  withoutNullOptionals,
} from "../../src/guard/agent-schemas.js";
import { fxTable, majorToMinor, toCapMinor } from "../../src/money/currency.js";
import { DEMO, type DemoRole, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { TOOLS } from "../../tools/index.js";
import type { SessionStatusView } from "../../tools/tool.js";
import { connectStdio, policyFile, tempHome } from "../e2e/harness.js";
import { connect, createKey, startHttpServer } from "../http/harness.js";
import { adminClient } from "./harness.js";
import {
  callArbitrary,
  type HostileCall,
  type JsonSchema,
  overTheWire,
  refundPressure,
  toolNameArbitrary,
} from "./hostile-args.js";
import {
  databaseText,
  findLeaks,
  type Haystack,
  malformations,
  type StripeExchange,
  stripeRecorder,
} from "./hostile-wire.js";

/**
 * Issue #7, hostile input: property-based fuzzing of every tool of every role policy over
 * real MCP transports (stdio per role, plus Streamable HTTP with an agent key), against
 * the sandbox behind a recording relay. Each call gets a stable structured error or a
 * result that matches the tool's output schema; the server stays up; nothing ill-formed
 * reaches Stripe; no money moves past the caps; the policy and the tool list do not
 * change; and no secret appears in any result, log line or database row.
 *
 * HOSTILE_SEED and HOSTILE_RUNS (runs per tool) reproduce or deepen a run.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_123);
const RUNS = Number(process.env.HOSTILE_RUNS ?? 40);
/** Per server: a few seconds at the default runs; longer hunts get time in proportion. */
const TIMEOUT = Math.max(60_000, RUNS * 2_500);

const ROLES: readonly DemoRole[] = [
  "support-refunds",
  "billing-collections",
  "subscription-manager",
  "analytics-readonly",
  "dispute-handler",
];

/** Every code an agent may see; `internal_error` is deliberately missing: it is a crash. */
const STABLE_CODES = new Set<string>([
  ...DENY_CODES,
  "invalid_input",
  "unknown_tool",
  "stripe_permission_denied",
  "stripe_error",
  "stripe_unavailable",
  "outcome_unknown",
]);

/** What a stack trace or an internal path looks like in text meant for an agent. */
const INTERNALS = /\n\s+at |node:internal|\/work\/|\/dist\/|\.[jt]s:\d+|TypeError|ReferenceError/;

const HTTP_AGENT = "hostile-http";

let sandbox: Sandbox;
let recorder: Awaited<ReturnType<typeof stripeRecorder>>;
const home = tempHome();
const policyDir = mkdtempSync(join(tmpdir(), "spendguard-hostile-policies-"));

/** The role policies as shipped, but with the generic call-count limits lifted so the fuzzer is not rate-limited into silence; caps, scope, params and per-tool limits are the shipped ones. */
const policies = new Map<string, string>();
/** Every text a tool result carried, for the secret scan. */
const resultTexts: Haystack[] = [];
/** Each server's stderr, by label. */
const serverLogs = new Map<string, () => string>();
/** Secrets in play: Stripe keys, the agent key, the sandbox admin key. */
const secrets = new Set<string>();
/** Each server's Stripe key and the policy it ran, for the money check. */
const servers: { label: string; stripeKey: string; policy: string; accounts: string[] }[] = [];
const calls = { total: 0, errors: new Map<string, number>(), successes: 0 };
let policyHashes: Map<string, string>;

/**
 * The policy files the servers run, by hash. (Copies: the shipped files in policies/ are
 * never handed to a server here, and others may be editing them while this runs.)
 */
function hashFiles(): Map<string, string> {
  const files = readdirSync(policyDir).map((f) => join(policyDir, f));
  return new Map(files.map((f) => [f, createHash("sha256").update(readFileSync(f)).digest("hex")]));
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  recorder = await stripeRecorder(sandbox);
  for (const role of ROLES) {
    policies.set(
      role,
      policyFile(policyDir, role, {
        limits: { calls_per_session: 100_000, calls_per_hour: 100_000 },
      }),
    );
  }
  // The HTTP agent may also act on the demo's connected account, so `stripe_account` is fuzzed too.
  policies.set(
    HTTP_AGENT,
    policyFile(policyDir, "support-refunds", {
      limits: { calls_per_session: 100_000, calls_per_hour: 100_000 },
      connected_accounts: [DEMO.accounts.connected],
    }),
  );
  secrets.add(sandbox.keys.admin);
  for (const key of Object.values(sandbox.keys.roles)) secrets.add(key);
  policyHashes = hashFiles();
  console.log(
    `hostile: fast-check seed ${SEED}, ${RUNS} runs per tool (HOSTILE_SEED, HOSTILE_RUNS)`,
  );
});

afterAll(async () => {
  await recorder?.close();
  await sandbox?.close();
  home.cleanup();
  rmSync(policyDir, { recursive: true, force: true });
});

const errorOf = (result: CallToolResult) => {
  const first = result.content[0];
  const text = first?.type === "text" ? first.text : "";
  return (JSON.parse(text) as { error: { code: string; message: string; hint?: string } }).error;
};

async function status(client: Client): Promise<SessionStatusView> {
  calls.total++;
  const result = (await client.callTool({
    name: "session_status",
    arguments: {},
  })) as CallToolResult;
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as unknown as SessionStatusView;
}

/** Tools in a fixed order, `end_session` last: it ends the session every later call runs in. */
const byEndLast = (a: Tool, b: Tool) =>
  Number(a.name === "end_session") - Number(b.name === "end_session") ||
  a.name.localeCompare(b.name);

/**
 * Fuzzes every tool the server lists, then checks what must not have changed. Returns
 * the session's status before and after, for the money check.
 */
async function fuzzServer(
  label: string,
  client: Client,
  alive: () => boolean,
  accounts: string[],
): Promise<{ before: SessionStatusView; after: SessionStatusView }> {
  const listed = (await client.listTools()).tools;
  const before = await status(client);
  expect(listed.map((t) => t.name).sort()).toEqual([...before.tools].sort());
  let after: SessionStatusView | undefined;
  const seen = { ok: 0, errors: new Map<string, number>() };
  /** Per tool: successes / calls. */
  const perTool: string[] = [];

  // Names that are not this session's tools: refused as such, briefly, nothing sent to Stripe.
  const listedNames = new Set(listed.map((t) => t.name));
  await fc.assert(
    fc.asyncProperty(
      toolNameArbitrary(TOOLS.map((t) => t.name)).filter((name) => !listedNames.has(name)),
      async (name) => {
        const sentBefore = recorder.exchanges.length;
        const result = (await client.callTool({ name, arguments: {} })) as CallToolResult;
        calls.total++;
        resultTexts.push({ where: `${label} tool name result`, text: JSON.stringify(result) });
        if (!alive()) throw new Error(`${label} died after a call of an unknown tool`);
        const error = errorOf(result);
        calls.errors.set(error.code, (calls.errors.get(error.code) ?? 0) + 1);
        const real = TOOLS.some((t) => t.name === name);
        // A real tool this policy leaves out: its arguments are checked first, then it is refused.
        if (real) expect(["tool_not_allowed", "invalid_input"]).toContain(error.code);
        else expect(error.code).toBe("unknown_tool");
        expect(error.message.length + (error.hint?.length ?? 0)).toBeLessThan(4_000);
        expect(recorder.exchanges.length - sentBefore).toBe(0);
      },
    ),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  expect((await client.listTools()).tools).toEqual(listed);

  for (const tool of [...listed].sort(byEndLast)) {
    if (tool.name === "end_session") {
      // Everything about the session is checked while it still runs.
      after = await status(client);
    }
    const definition = TOOLS.find((t) => t.name === tool.name);
    if (!definition) throw new Error(`${label} lists ${tool.name}, which spendguard does not have`);
    const input = agentInputSchema(definition, accounts);
    const okBefore = seen.ok;
    const callsBefore = calls.total;
    const output = agentOutputSchema(definition);

    const check = async (c: HostileCall) => {
      const sentBefore = recorder.exchanges.length;
      const result = (await client.callTool({
        name: tool.name,
        arguments: c.args,
      })) as CallToolResult;
      calls.total++;
      resultTexts.push({ where: `${label} ${tool.name} result`, text: JSON.stringify(result) });
      if (!alive()) throw new Error(`${label} died after ${tool.name}`);
      // As the guard reads them: text with a lone surrogate is refused, and an optional
      // argument sent as null is not given (#14, #15).
      const sent = overTheWire(c.args);
      const expected =
        malformedTextAt(sent) === undefined
          ? input.safeParse(withoutNullOptionals(input, sent))
          : { success: false as const };
      if (result.isError) {
        const error = errorOf(result);
        calls.errors.set(error.code, (calls.errors.get(error.code) ?? 0) + 1);
        seen.errors.set(error.code, (seen.errors.get(error.code) ?? 0) + 1);
        expect(STABLE_CODES.has(error.code), `code ${error.code}: ${error.message}`).toBe(true);
        expect(typeof error.message).toBe("string");
        expect(`${error.message}\n${error.hint ?? ""}`).not.toMatch(INTERNALS);
        // A refusal says what is wrong; it does not echo 100 kB of the agent's input back.
        expect(error.message.length + (error.hint?.length ?? 0)).toBeLessThan(4_000);
        if (expected.success) expect(error.code).not.toBe("invalid_input");
        else {
          expect(error.code, error.message).toBe("invalid_input");
          // Refused at the door: not a single request to Stripe on its account.
          expect(recorder.exchanges.length - sentBefore).toBe(0);
        }
      } else {
        calls.successes++;
        seen.ok++;
        expect(expected.success, "a call its schema refuses succeeded").toBe(true);
        const shape = output.safeParse(result.structuredContent);
        expect(shape.success, shape.error?.message).toBe(true);
      }
    };
    // Tools that change Stripe get more runs: that is where caps and rules must hold.
    const runs = definition.kind === "write" ? RUNS * 3 : RUNS;
    await fc.assert(fc.asyncProperty(callArbitrary(tool.inputSchema as JsonSchema), check), {
      numRuns: runs,
      seed: SEED,
      endOnFailure: true,
    });
    if (tool.name === "issue_refund") {
      await fc.assert(fc.asyncProperty(refundPressure, check), {
        numRuns: RUNS * 2,
        seed: SEED,
        endOnFailure: true,
      });
    }
    perTool.push(`${tool.name} ${seen.ok - okBefore}/${calls.total - callsBefore}`);
    // Still answering, with the same tools (end_session may have ended the session).
    expect((await client.listTools()).tools).toEqual(listed);
  }
  calls.total++;
  const ended = (await client.callTool({
    name: "session_status",
    arguments: {},
  })) as CallToolResult;
  resultTexts.push({ where: `${label} final status`, text: JSON.stringify(ended) });
  if (!after) after = await status(client);
  console.log(
    `hostile: ${label}: ${listed.length} tools, ${seen.ok} successes, errors ${JSON.stringify(
      Object.fromEntries(seen.errors),
    )}; ok/calls per tool: ${perTool.join(", ")}`,
  );
  return { before, after };
}

/** Session caps are the policy's before and after; `used` moved by exactly what Stripe reports moved. */
function checkCaps(
  label: string,
  stripeKey: string,
  before: SessionStatusView,
  after: SessionStatusView,
) {
  expect(after.caps.per_call).toBe(before.caps.per_call);
  expect(after.caps.per_customer_per_day).toBe(before.caps.per_customer_per_day);
  expect(after.caps.per_session?.cap).toBe(before.caps.per_session?.cap);
  expect(after.caps.per_day?.cap).toBe(before.caps.per_day?.cap);
  expect(after.cap_currency).toBe(before.cap_currency);
  expect(after.policy).toBe(before.policy);
  const moved = movesBy(stripeKey).reduce((sum, m) => sum + m.capMinor, 0);
  if (after.caps.per_session) {
    expect(after.caps.per_session.used - (before.caps.per_session?.used ?? 0), label).toBe(moved);
    expect(after.caps.per_session.left).toBe(
      after.caps.per_session.cap - after.caps.per_session.used,
    );
  }
  // Each server here is its agent's only session, so the day moved by the same amount.
  if (after.caps.per_day) {
    expect(after.caps.per_day.used - (before.caps.per_day?.used ?? 0), label).toBe(moved);
  }
}

interface Move {
  what: string;
  amount: number;
  currency: string;
  capMinor: number;
  customer: string | null;
  charge?: string;
}

/** Money Stripe says moved for requests sent with this key: each write counted once (replays share an idempotency key). */
function movesBy(stripeKey: string): Move[] {
  const fx = fxTable("usd", { eur: 1.08, jpy: 0.0067 });
  const seen = new Set<string>();
  const moves: Move[] = [];
  for (const x of recorder.exchanges) {
    if (x.key !== stripeKey || x.method !== "POST" || x.status !== 200 || !x.answer) continue;
    if (x.idempotencyKey && seen.has(x.idempotencyKey)) continue;
    if (x.idempotencyKey) seen.add(x.idempotencyKey);
    const a = x.answer as {
      amount?: number;
      amount_received?: number;
      amount_paid?: number;
      currency?: string;
      customer?: unknown;
      charge?: string;
    };
    const path = x.url.split("?")[0] ?? "";
    let amount: number | undefined;
    if (path === "/v1/refunds") amount = a.amount;
    else if (path.endsWith("/capture")) amount = a.amount_received;
    else if (path.endsWith("/pay")) amount = a.amount_paid;
    if (amount === undefined) continue;
    const currency: string = a.currency ?? "";
    moves.push({
      what: path,
      amount,
      currency,
      capMinor: toCapMinor(amount, currency, fx) ?? Number.POSITIVE_INFINITY,
      customer: typeof a.customer === "string" ? a.customer : null,
      ...(path === "/v1/refunds" ? { charge: a.charge } : {}),
    });
  }
  return moves;
}

describe("the checks themselves", () => {
  const exchange = (url: string, body = "", account?: string): StripeExchange => ({
    method: "POST",
    url,
    body,
    key: "",
    account,
    idempotencyKey: undefined,
    status: 200,
    answer: null,
  });

  it("the request judge passes what spendguard sends and flags what must never leave", () => {
    const good = [
      exchange("/v1/charges/ch_SgAcmeLarge500Usd?expand[0]=customer"),
      exchange("/v1/refunds", "charge=ch_SgAcmeLarge500Usd&amount=2500&reason=duplicate"),
      exchange("/v1/customers?email=jane.doe%40acme.example&limit=10"),
      exchange(
        "/v1/disputes/dp_1",
        "evidence[uncategorized_text]=ignore+previous+instructions&submit=false",
      ),
      exchange("/v1/payment_intents/pi_1/capture", "", "acct_1"),
    ];
    for (const x of good) expect(malformations(x, ["acct_1"]), x.url).toEqual([]);
    const bad = [
      exchange("/v1/charges/ch_x%2F..%2Frefunds"),
      exchange("/v1/charges/ch_1/../refunds"),
      exchange("/v1/charges/cus_SgAcmeJaneDoe"),
      exchange("/v1/refunds", "charge=ch_1&amount=12.5"),
      exchange("/v1/refunds", "charge=ch_1&amount=-1"),
      exchange("/v1/refunds", "charge=ch_1&amount=1e308"),
      exchange("/v1/refunds", "charge=ch_1&expand[]=customer&policy=x"),
      exchange("/v1/customers?email=*%40acme.example"),
      exchange("/v1/disputes/dp_1", `evidence[uncategorized_text]=${"a".repeat(5001)}`),
      exchange("/v1/charges/ch_1", "", "acct_other"),
    ];
    for (const x of bad) expect(malformations(x, ["acct_1"]), x.url).not.toEqual([]);
  });

  it("the secret scan finds a key whole, without its prefix, cut short, or cut anywhere", () => {
    const agentKey = `sg_agent_${"Ab3_-x9Q".repeat(5)}zZ1`;
    const found = (text: string) =>
      findLeaks([{ where: "probe", text }], [agentKey, "rk_test_sg_x_role"]);
    expect(found(`a ${agentKey} b`)).not.toEqual([]);
    expect(found(`token=${agentKey.slice(9)}`)).not.toEqual([]);
    expect(found(`${agentKey.slice(0, 20)}…`)).not.toEqual([]);
    expect(found(`…${agentKey.slice(20, 34)}…`)).not.toEqual([]);
    expect(found("key rk_test_sg_x_role")).not.toEqual([]);
    expect(found("rk_test_…role, sg_agent_[redacted], key_0123abcd")).toEqual([]);
  });
});

describe.sequential("hostile input over the real transports", () => {
  /** One stdio server: spawned, fuzzed, its caps checked, closed. */
  async function fuzzStdio(label: string, policy: string, stripeKey: string, args: string[] = []) {
    const server = await connectStdio({
      policy,
      home: home.dir,
      sandbox,
      key: stripeKey,
      args,
      env: { SPENDGUARD_STRIPE_BASE_URL: recorder.url, SPENDGUARD_LOG_LEVEL: "debug" },
    });
    serverLogs.set(label, server.stderr);
    servers.push({ label, stripeKey, policy, accounts: [] });
    const pid = server.transport.pid;
    const alive = () => pid !== null && isAlive(pid);
    try {
      const { before, after } = await fuzzServer(label, server.client, alive, []);
      checkCaps(label, stripeKey, before, after);
    } finally {
      await server.close();
    }
  }

  for (const role of ROLES) {
    it(
      `${role} over stdio: every tool, fuzzed`,
      () => fuzzStdio(role, policies.get(role) ?? "", sandbox.keys.roles[role]),
      TIMEOUT,
    );
  }

  it(
    "with a Stripe key Stripe does not know: every read refused upstream, the key never shown",
    () => {
      // Random, like a real key: every 12-character stretch of it is looked for afterwards.
      const key = `rk_test_${randomBytes(30).toString("hex")}`;
      secrets.add(key);
      return fuzzStdio("unknown-key", policies.get("analytics-readonly") ?? "", key, [
        "--agent",
        "unknown-key",
      ]);
    },
    TIMEOUT,
  );

  it(
    "support-refunds over Streamable HTTP with an agent key (and a connected account): every tool, fuzzed",
    async () => {
      const policy = policies.get(HTTP_AGENT) ?? "";
      const agent = await createKey(home.dir, ["--agent", HTTP_AGENT, "--policy", policy]);
      secrets.add(agent.key);
      const server = await startHttpServer({
        home: home.dir,
        env: {
          // The admin key, so a standard secret key is among the secrets that must not leak.
          STRIPE_API_KEY: sandbox.keys.admin,
          SPENDGUARD_STRIPE_BASE_URL: recorder.url,
          SPENDGUARD_LOG_LEVEL: "debug",
        },
        args: ["--allow-secret-key", "--rate-limit", "100000"],
      });
      serverLogs.set(HTTP_AGENT, server.stderr);
      servers.push({
        label: HTTP_AGENT,
        stripeKey: sandbox.keys.admin,
        policy,
        accounts: [DEMO.accounts.connected],
      });
      const connected = await connect(server.url, agent.key);
      try {
        const { before, after } = await fuzzServer(
          HTTP_AGENT,
          connected.client,
          () => server.child.exitCode === null,
          [DEMO.accounts.connected],
        );
        checkCaps(HTTP_AGENT, sandbox.keys.admin, before, after);
      } finally {
        await connected.close();
        // A clean shutdown after it all, not a crash.
        expect(await server.stop()).toBe(0);
      }
    },
    TIMEOUT,
  );

  it("nothing ill-formed reached Stripe, and no money moved past a cap", async () => {
    expect(recorder.exchanges.length).toBeGreaterThan(0);
    const accounts = servers.flatMap((s) => s.accounts);
    const bad = recorder.exchanges
      .map((x) => ({
        request: `${x.method} ${x.url.slice(0, 120)}`,
        problems: malformations(x, accounts),
      }))
      .filter((x) => x.problems.length > 0);
    expect(bad).toEqual([]);

    const admin = adminClient(sandbox);
    for (const server of servers) {
      const policy = parse(readFileSync(server.policy, "utf8")) as {
        caps?: Record<string, number>;
        tools: Record<string, { params?: Record<string, { max?: number }> } | null>;
      };
      const caps = policy.caps ?? {};
      const cap = (name: string) =>
        caps[name] === undefined ? Number.POSITIVE_INFINITY : majorToMinor(caps[name], "usd");
      const moves = movesBy(server.stripeKey);
      for (const move of moves) {
        expect(move.capMinor, `${server.label} ${move.what}`).toBeLessThanOrEqual(cap("per_call"));
      }
      const total = moves.reduce((sum, m) => sum + m.capMinor, 0);
      expect(total, server.label).toBeLessThanOrEqual(cap("per_session"));
      expect(total, server.label).toBeLessThanOrEqual(cap("per_day"));
      // Per customer, and the refund-fraction rule, from Stripe's own records.
      const perCustomer = new Map<string, number>();
      const maxFraction = policy.tools.issue_refund?.params?.refund_fraction?.max;
      for (const move of moves) {
        let customer = move.customer;
        if (move.charge) {
          const charge = await admin.charges.retrieve(move.charge);
          customer = typeof charge.customer === "string" ? charge.customer : null;
          if (maxFraction !== undefined) {
            expect(
              move.amount / charge.amount,
              `${server.label} refund of ${move.charge}`,
            ).toBeLessThanOrEqual(maxFraction);
          }
        }
        const key = customer ?? "(guest)";
        perCustomer.set(key, (perCustomer.get(key) ?? 0) + move.capMinor);
      }
      for (const [customer, amount] of perCustomer) {
        expect(amount, `${server.label} ${customer}`).toBeLessThanOrEqual(
          cap("per_customer_per_day"),
        );
      }
      console.log(
        `hostile: ${server.label}: ${moves.length} money movements, ${total} usd cents in all`,
      );
    }
    // subscription-manager: at period end only (no DELETE), and at most 3 cancellations.
    const subscriptions = servers.find((s) => s.label === "subscription-manager");
    if (subscriptions) {
      const mine = recorder.exchanges.filter(
        (x) =>
          x.key === subscriptions.stripeKey &&
          x.status === 200 &&
          x.url.startsWith("/v1/subscriptions/"),
      );
      expect(mine.filter((x) => x.method === "DELETE")).toEqual([]);
      const cancellations = new Set(
        mine.filter((x) => x.method === "POST").map((x) => x.idempotencyKey),
      );
      expect(cancellations.size).toBeLessThanOrEqual(3);
    }
  });

  it("every call is one audit row, and the chain verifies", async () => {
    const store = openSqliteStore(home.dir);
    try {
      expect(await store.queryAudit({})).toHaveLength(calls.total);
      expect(await verifyAudit(store)).toEqual({ ok: true, rows: calls.total });
    } finally {
      await store.close();
    }
  });

  it("the policies are byte for byte what they were", () => {
    expect(hashFiles()).toEqual(policyHashes);
  });

  it("no secret, whole or in part, in any tool result, log line or database row", () => {
    const logs = [...serverLogs].map(([label, stderr]) => ({
      where: `${label} stderr`,
      text: stderr(),
    }));
    const haystacks = [...resultTexts, ...logs, ...databaseText(home.dir)];
    expect(logs.every((l) => l.text.length > 0)).toBe(true);
    expect(secrets.size).toBeGreaterThanOrEqual(8);
    const leaks = findLeaks(haystacks, [...secrets]);
    expect(leaks).toEqual([]);
    // Every line is a log record (no stack trace, no runtime warning printed raw), and none
    // is an error: a hostile argument is an ordinary refusal, not a failure.
    const failures = logs.flatMap(({ where, text }) =>
      text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          try {
            return JSON.parse(line) as { level: number; msg: string };
          } catch {
            return { level: 60, msg: `not a log record: ${line.slice(0, 200)}` };
          }
        })
        .filter((line) => line.level >= 50)
        .map((line) => `${where}: ${line.msg}`),
    );
    expect(failures).toEqual([]);
    console.log(
      `hostile: ${calls.total} calls, ${calls.successes} successes, errors ${JSON.stringify(
        Object.fromEntries(calls.errors),
      )}; ${recorder.exchanges.length} Stripe requests`,
    );
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
