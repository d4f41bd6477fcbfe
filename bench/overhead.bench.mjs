// Guard overhead per call: the same tool (lookup_charge, issue_refund) against the same
// sandbox, called directly with a Stripe client and through the Guard, interleaved in one
// run. The guard's own time per call is also measured exactly: the guarded call's time
// minus the time spent inside the tool's resolve() and handle() (which are the Stripe
// requests), so the sandbox's noise does not blur it.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Guard } from "../dist/src/guard/guard.js";
import { startSession } from "../dist/src/guard/sessions.js";
import { loadPolicy } from "../dist/src/policy/load.js";
import { openSqliteStore } from "../dist/src/store/sqlite/store.js";
import { createStripeClient } from "../dist/src/stripe/client.js";
import { TOOLS } from "../dist/tools/index.js";
import {
  heading,
  ms,
  POLICY,
  ROLE_KEY,
  row,
  scaled,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

/** The tool with its resolve() and handle() timed: `spent` is the ms inside them. */
function timed(tool, clock) {
  return {
    ...tool,
    async resolve(ctx, args) {
      const started = performance.now();
      try {
        return await tool.resolve(ctx, args);
      } finally {
        clock.spent += performance.now() - started;
      }
    },
    async handle(ctx, args, resolved, inScope) {
      const started = performance.now();
      try {
        return await tool.handle(ctx, args, resolved, inScope);
      } finally {
        clock.spent += performance.now() - started;
      }
    },
  };
}

export async function run({ calls = scaled(1_500, 100), warmup = scaled(150, 20) } = {}) {
  heading("Guard overhead per call (in process, same sandbox, interleaved)");
  const sandbox = await startSandboxProcess({ charges: 200 });
  const home = tempDir();
  const clock = { spent: 0 };
  const tools = TOOLS.map((tool) => timed(tool, clock));
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const policy = loadPolicy(POLICY, tools);
  const store = openSqliteStore(home);
  const session = await startSession(store, { policy });
  const stripe = createStripeClient({ apiKey: ROLE_KEY, baseUrl: sandbox.url });
  const guard = await Guard.open({
    policy,
    store,
    sessionId: session.id,
    stripe,
    home,
    tools,
    transport: "stdio",
  });
  const ctx = { stripe, requestOptions: {}, pii: policy.policy.pii };
  console.log(
    `  ${calls} calls per tool and arm after ${warmup} warm-up; sandbox pid ${sandbox.pid}, guard store ${home}`,
  );

  let n = 0;
  const unguarded = async (tool, args, key) => {
    const toolCtx = tool.kind === "write" ? { ...ctx, idempotencyKey: key } : ctx;
    const resolved = await tool.resolve(toolCtx, args);
    return tool.handle(toolCtx, args, resolved, () => true);
  };
  /** The refund an unguarded server would make: refunds.create alone, no pre-read. */
  const bareRefund = (args) =>
    stripe.refunds.create(
      { charge: args.charge, amount: args.amount, reason: args.reason },
      { idempotencyKey: randomUUID() },
    );

  const results = {};
  for (const name of ["lookup_charge", "issue_refund"]) {
    const tool = byName.get(name);
    const argsOf = name === "issue_refund" ? sandbox.refundArgs : sandbox.readArgs;
    const direct = [];
    const guarded = [];
    const own = [];
    const diff = [];
    const bare = [];
    for (let i = 0; i < warmup + calls; i++) {
      // Alternate which arm goes first so neither always follows the other.
      const order = i % 2 === 0 ? ["direct", "guarded"] : ["guarded", "direct"];
      const took = {};
      for (const arm of order) {
        const args = argsOf(n++);
        const started = performance.now();
        if (arm === "direct") {
          await unguarded(tool, args, randomUUID());
          took.direct = performance.now() - started;
        } else {
          clock.spent = 0;
          const outcome = await guard.call(name, args);
          took.guarded = performance.now() - started;
          if (!outcome.ok)
            throw new Error(`guarded ${name} refused: ${outcome.code} ${outcome.message}`);
          took.own = took.guarded - clock.spent;
        }
      }
      let bareTook = null;
      if (name === "issue_refund") {
        const started = performance.now();
        await bareRefund(argsOf(n++));
        bareTook = performance.now() - started;
      }
      if (i < warmup) continue;
      direct.push(took.direct);
      guarded.push(took.guarded);
      own.push(took.own);
      diff.push(took.guarded - took.direct);
      if (bareTook !== null) bare.push(bareTook);
    }
    results[name] = {
      direct: stats(direct),
      guarded: stats(guarded),
      own: stats(own),
      diff: stats(diff),
      bare: bare.length > 0 ? stats(bare) : null,
    };
  }
  await store.close();
  await sandbox.close();

  for (const [name, r] of Object.entries(results)) {
    console.log(`\n  ${name}`);
    console.log(row("unguarded (tool's resolve + handle)", r.direct));
    console.log(row("guarded (Guard.call)", r.guarded));
    console.log(row("guard's own time (guarded − time in tool)", r.own));
    console.log(row("paired difference (guarded − unguarded)", r.diff));
    if (r.bare) console.log(row("bare refunds.create (no pre-read)", r.bare));
    const ratio50 = r.guarded.p50 / r.direct.p50;
    const ratio99 = r.guarded.p99 / r.direct.p99;
    const ratioMean = r.guarded.mean / r.direct.mean;
    console.log(
      `  ratio guarded/unguarded: p50 ${ratio50.toFixed(3)}, p99 ${ratio99.toFixed(3)}, mean ${ratioMean.toFixed(3)}`,
    );
    verdict(`${name}: p99 guard overhead ${ms(r.own.p99, 3)} (target < 1 ms)`, r.own.p99 < 1);
    verdict(
      `${name}: end-to-end ratio guarded/unguarded p50 ${ratio50.toFixed(2)} (target ≤ 1.10)`,
      ratio50 <= 1.1,
    );
    if (r.bare) {
      console.log(
        `  (against a bare refunds.create with no pre-read: p50 ratio ${(r.guarded.p50 / r.bare.p50).toFixed(2)}; the pre-read is how the guard learns the customer and the amount)`,
      );
    }
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
