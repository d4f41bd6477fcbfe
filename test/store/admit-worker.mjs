// One process of the multi-process cap test: a guard session (as one stdio server would
// have) firing its calls all at once against the shared SPENDGUARD_HOME. Runs the
// compiled code under `built` (dist/, or a fresh build). Prints one JSON line: what each
// call returned.
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import Stripe from "stripe";
import { z } from "zod";

const [built, home, policyFile, worker, calls, startAt] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(`${built}/${path}`).href);
const { Guard } = await load("src/guard/guard.js");
const { loadPolicy } = await load("src/policy/load.js");
const { startSession } = await load("src/guard/sessions.js");
const { openSqliteStore } = await load("src/store/sqlite/store.js");
const { defineTool } = await load("tools/tool.js");

/** A refund-like tool: the charge id says the amount; Stripe takes a few ms to answer. */
const refund = defineTool({
  name: "issue_refund",
  title: "Refund",
  description: "Fake refund for the multi-process test.",
  input: z.object({ charge: z.string(), amount: z.number().int().positive() }).strict(),
  output: z.object({ refunded: z.number().int() }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  permissions: { refunds: "write" },
  kind: "write",
  scope: "customer",
  ruleParams: [],
  async resolve(_ctx, args) {
    await sleep(Math.random() * 3);
    return { customer: null, moves: { amount: args.amount, currency: "usd" }, data: undefined };
  },
  async handle(_ctx, args) {
    await sleep(Math.random() * 5);
    return {
      output: { refunded: args.amount },
      text: "ok",
      moved: { amount: args.amount, currency: "usd" },
    };
  },
});

const policy = loadPolicy(policyFile, [refund]);
const store = openSqliteStore(home);
const session = await startSession(store, { policy });
const guard = await Guard.open({
  policy,
  store,
  sessionId: session.id,
  stripe: new Stripe("sk_test_x", { host: "127.0.0.1", port: 9, protocol: "http" }),
  home,
  tools: [refund],
  transport: "stdio",
});

// Every worker starts at the same moment, so their admissions really contend.
while (Date.now() < Number(startAt)) await sleep(1);

const outcomes = await Promise.all(
  Array.from({ length: Number(calls) }, async (_, i) => {
    const amount = 100 + Math.floor(Math.random() * 1_900);
    try {
      const outcome = await guard.call("issue_refund", { charge: `ch_${worker}_${i}`, amount });
      return { amount, code: outcome.ok ? "ok" : outcome.code };
    } catch (err) {
      return { amount, code: "escaped", error: String(err) };
    }
  }),
);
await store.close();
process.stdout.write(`${JSON.stringify({ session: session.id, outcomes })}\n`);
