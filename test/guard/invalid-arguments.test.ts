import { afterAll, expect, it } from "vitest";
import { agentInputSchema, describeInvalidArguments } from "../../src/guard/agent-schemas.js";
import { TOOLS } from "../../tools/index.js";
import { harness } from "./fixtures/harness.js";
import { removeTempHomes } from "./fixtures/home.js";
import { BASE_POLICY } from "./fixtures/policies.js";

afterAll(removeTempHomes);

/**
 * Unknown argument and tool names are the agent's own text. Found by the hostile-input
 * fuzzing (test/reliability/hostile.test.ts): a 100 kB name came back whole in the refusal
 * and its audit row, bidi and NUL characters came back raw, and an unknown name inside
 * `evidence` was described with the top-level fields as the known ones.
 */

const tool = (name: string) => {
  const found = TOOLS.find((t) => t.name === name);
  if (!found) throw new Error(name);
  return agentInputSchema(found, []);
};

const describe = (name: string, args: unknown) => {
  const schema = tool(name);
  const parsed = schema.safeParse(args);
  if (parsed.success) throw new Error("expected a refusal");
  return describeInvalidArguments(name, schema, parsed.error);
};

it("an unknown argument's name is clipped, not echoed whole", () => {
  const message = describe("lookup_charge", {
    charge: "ch_1",
    ["x".repeat(100_000)]: 1,
  });
  expect(message.length).toBeLessThan(300);
  expect(message).toContain(`unknown argument "${"x".repeat(40)}…" (known: charge)`);
});

it("control, bidi and zero-width characters in a name are shown escaped", () => {
  const message = describe("lookup_charge", {
    charge: "ch_1",
    "\u202eamount\u0000\u200b": 1,
  });
  expect(message).toContain(String.raw`"\u202eamount\u0000\u200b"`);
  for (const raw of ["\u0000", "\u200b", "\u202e"]) expect(message).not.toContain(raw);
});

it("many unknown names: the first five, and how many more", () => {
  const extra = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x${i}`, i]));
  const message = describe("get_balance", extra);
  expect(message).toBe(
    'Invalid arguments for get_balance: unknown arguments "x0", "x1", "x2", "x3", "x4" and 3 more (known: none).',
  );
});

it("an unknown name inside evidence says where it is and lists evidence's own fields", () => {
  const message = describe("submit_dispute_evidence", {
    dispute: "dp_1",
    evidence: { uncategorized_text: "used it all month", admin_override: true },
  });
  expect(message).toContain('evidence: unknown argument "admin_override" (known: customer_name,');
  expect(message).not.toContain("known: dispute");
});

it("a top-level unknown name reads as before", () => {
  expect(describe("issue_refund", { charge: "ch_1", amount_usd: 10 })).toContain(
    'unknown argument "amount_usd" (known: charge, payment_intent, amount, reason)',
  );
});

it("an unknown tool's name is clipped in the refusal and in the audit row", async () => {
  const h = await harness();
  const name = `drop_tables\u202e${"x".repeat(100_000)}`;
  const outcome = await h.guard.call(name, {});
  if (outcome.ok) throw new Error("expected a refusal");
  expect(outcome.code).toBe("unknown_tool");
  expect(outcome.message).toBe(`Unknown tool "drop_tables\\u202e${"x".repeat(28)}…".`);
  const rows = await h.store.queryAudit({});
  const row = rows[rows.length - 1];
  expect(row?.code).toBe("unknown_tool");
  expect(row?.tool.length).toBeLessThan(300);
  expect(JSON.stringify(row).length).toBeLessThan(20_000);
});

it("stripe_account is an account id or invalid input: never echoed, never a header", async () => {
  const h = await harness(`${BASE_POLICY}connected_accounts: [acct_one]\n`);
  for (const account of [
    `acct_${"A".repeat(100_000)}`,
    "acct_one\r\nX-Injected: 1",
    "acct_one/../acct_two",
    "acct_\u202eeno",
    "acct_",
  ]) {
    const outcome = await h.guard.call("get_balance", { stripe_account: account });
    if (outcome.ok) throw new Error(`accepted ${JSON.stringify(account)}`);
    expect(outcome.code).toBe("invalid_input");
    expect(outcome.message.length).toBeLessThan(300);
    expect(outcome.message).not.toContain("X-Injected");
  }
});
