import { performance } from "node:perf_hooks";
import type { pino } from "pino";
import type Stripe from "stripe";
import type {
  AnyStripeTool,
  AnyTool,
  FoundOutcome,
  ToolContext,
  ToolResult,
} from "../../tools/tool.js";
import { redactError } from "../audit/redact-error.js";
import { keyStatus } from "../keys/api-keys.js";
import { settledCap } from "../money/charge.js";
import type { LoadedPolicy } from "../policy/load.js";
import { inScope } from "../policy/scope.js";
import type { Admission, AuditEntry, AuditOutcome, Settlement, Store } from "../store/store.js";
import { failureOf } from "./failures.js";
import { KEY_LIFE_MS } from "./idempotency.js";
import { readKillFlag } from "./kill.js";
import { ownerIsGone, readOwners } from "./owner.js";
import { recordResult } from "./recorded.js";

/**
 * Finds out what happened to writes whose outcome is not known — `unknown` ones, and
 * `reserved` ones whose process is gone. Inside the idempotency key's life, and only if
 * the write would pass every gate now (tool offered, not read-only, session and key
 * valid, no kill, customer in scope), it is sent again with its key and stamp: Stripe
 * answers with the first result if the request got there, or does it now. Otherwise it
 * only reads Stripe for the write's stamp (`metadata[spendguard_admission]`). What neither
 * proves stays counted as `unknown`, for an operator to resolve (`spendguard admissions`).
 */

export type ReconcileResult = "settled" | "released" | "unresolved" | "skipped";

export interface ReconcileItem {
  admission: string;
  session: string;
  tool: string;
  result: ReconcileResult;
  detail: string;
}

export interface ReconcileReport {
  checked: number;
  settled: number;
  released: number;
  /** Still `unknown` (or `reserved`): they keep counting against the caps. */
  unresolved: number;
  /** Resolved by someone else meanwhile, or not this process's to look at. */
  skipped: number;
  /** Reserved by another process that is still alive (it may yet settle them): look again later. */
  inFlight: number;
  items: ReconcileItem[];
}

export interface ReconcileContext {
  store: Store;
  stripe: Stripe;
  policy: LoadedPolicy;
  home: string;
  /** Only this agent's admissions: another agent may use another Stripe key or account. */
  agent: string;
  tools: ReadonlyMap<string, AnyTool>;
  /** `serve --read-only`: nothing is sent again, whatever else holds. */
  readOnly: boolean;
  clock: () => number;
  logger: pino.Logger;
}

/**
 * Audit rows of reconciliation (rule `reconcile`, or `operator` for a person's ruling):
 * what became of an earlier call, not a call of its own.
 */
export class ReconciliationEntries {
  constructor(
    private readonly capCurrency: string | null,
    private readonly clock: () => number,
    private readonly rule = "reconcile",
  ) {}

  entry(
    admission: Admission,
    outcome: AuditOutcome,
    code: string | null,
    reason: string,
    settlement?: Settlement,
    started = performance.now(),
  ): AuditEntry {
    return {
      at: new Date(this.clock()).toISOString(),
      session: admission.session,
      agent: admission.agent,
      tool: admission.tool,
      args: admission.args,
      decision: "allow",
      code,
      rule: this.rule,
      reason,
      stripe_request_id: settlement?.stripe_request_id ?? null,
      idempotency_key: admission.idempotency_key,
      amount: settlement?.amount ?? admission.amount,
      currency: admission.currency,
      amount_cap: settlement?.amount_cap ?? admission.amount_cap,
      cap_currency: admission.currency === null ? null : this.capCurrency,
      revenue_at_risk_cap: admission.revenue_at_risk_cap,
      customer: admission.customer,
      outcome,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
    };
  }
}

/** The admission's stamp looked up in Stripe by the tool; any failure to read is `unknown`. */
export async function learnOutcome(
  tool: AnyStripeTool,
  ctx: ToolContext,
  args: unknown,
  admission: Admission,
): Promise<FoundOutcome<Record<string, unknown>>> {
  if (!tool.findOutcome) {
    return { applied: "unknown", why: `${tool.name} cannot look its writes up in Stripe` };
  }
  try {
    return await tool.findOutcome(ctx, args, admission.id);
  } catch (err) {
    return {
      applied: "unknown",
      why: `reading Stripe failed: ${failureOf(err, "read").error.message}`,
    };
  }
}

/** What Stripe reports moved, as a settlement (the reserved figure where it reports none). */
export function settlementFrom(
  admission: Admission,
  result: ToolResult<Record<string, unknown>>,
  policy: LoadedPolicy,
): Settlement {
  const moved =
    result.moved ??
    (admission.currency ? { amount: admission.amount, currency: admission.currency } : null);
  return {
    amount: moved?.amount ?? 0,
    amount_cap: moved ? settledCap(moved, admission.amount_cap, policy.caps.fx) : 0,
    stripe_request_id: result.stripeRequestId ?? null,
    result: recordResult(result),
  };
}

export async function reconcileAdmissions(ctx: ReconcileContext): Promise<ReconcileReport> {
  const now = ctx.clock();
  const open = await ctx.store.listAdmissions({
    states: ["unknown", "reserved"],
    agent: ctx.agent,
  });
  const owners = await readOwners(ctx.store, open, now);
  const pending = open.filter(
    (admission) => admission.state === "unknown" || ownerIsGone(admission, owners),
  );
  const inFlight = open.filter(
    (admission) =>
      admission.state === "reserved" &&
      admission.owner_instance !== owners.self.instance &&
      !ownerIsGone(admission, owners),
  ).length;
  const entries = new ReconciliationEntries(ctx.policy.caps.currency, ctx.clock);
  const items: ReconcileItem[] = [];
  for (const admission of pending) {
    const item = (result: ReconcileResult, detail: string): ReconcileItem => ({
      admission: admission.id,
      session: admission.session,
      tool: admission.tool,
      result,
      detail,
    });
    try {
      items.push(await reconcileOne(ctx, entries, admission, item));
    } catch (err) {
      ctx.logger.error({ err: redactError(err), admission: admission.id }, "reconciliation failed");
      items.push(item("unresolved", "reconciliation failed unexpectedly; see the log"));
    }
  }
  const count = (result: ReconcileResult) => items.filter((i) => i.result === result).length;
  return {
    checked: items.length,
    settled: count("settled"),
    released: count("released"),
    unresolved: count("unresolved"),
    skipped: count("skipped"),
    inFlight,
    items,
  };
}

async function reconcileOne(
  ctx: ReconcileContext,
  entries: ReconciliationEntries,
  admission: Admission,
  item: (result: ReconcileResult, detail: string) => ReconcileItem,
): Promise<ReconcileItem> {
  const started = performance.now();
  const { store } = ctx;
  if (admission.idempotency_key === null) {
    // A read (or a counted repeat) cut short by a crash: nothing reached Stripe that needs confirming.
    const { applied } = await store.release(
      admission.id,
      entries.entry(
        admission,
        "reconciled",
        null,
        "A call interrupted before it finished; nothing to confirm.",
        undefined,
        started,
      ),
      "if-applied",
    );
    return item(applied ? "released" : "skipped", "an interrupted call that sent nothing");
  }
  const tool = ctx.tools.get(admission.tool);
  if (tool?.kind !== "write") {
    return item(
      "unresolved",
      `no write tool named ${admission.tool} in this build; an operator must resolve it`,
    );
  }
  const parsed = tool.input.safeParse(JSON.parse(admission.args));
  if (!parsed.success) {
    return item("unresolved", "its stored arguments no longer parse; an operator must resolve it");
  }
  const toolCtx: ToolContext = {
    stripe: ctx.stripe,
    requestOptions: admission.account ? { stripeAccount: admission.account } : {},
    idempotencyKey: admission.idempotency_key,
    admission: admission.id,
    pii: ctx.policy.policy.pii,
  };

  const refusal = await sendRefusal(ctx, tool, toolCtx, parsed.data, admission);
  if (refusal === null)
    return replay(ctx, entries, tool, toolCtx, parsed.data, admission, item, started);

  // Not sent again: only reading Stripe can tell what happened.
  const found = await learnOutcome(tool, toolCtx, parsed.data, admission);
  if (found.applied === "yes") {
    const settlement = settlementFrom(admission, found.result, ctx.policy);
    const { applied } = await store.settle(
      admission.id,
      settlement,
      entries.entry(
        admission,
        "reconciled",
        null,
        `Not sent again (${refusal}). Read Stripe: it applied; settled with what Stripe holds.`,
        settlement,
        started,
      ),
      "if-applied",
    );
    return applied ? item("settled", found.result.text) : item("skipped", "resolved meanwhile");
  }
  if (found.applied === "no") {
    const { applied } = await store.release(
      admission.id,
      entries.entry(
        admission,
        "reconciled",
        null,
        `Not sent again (${refusal}). Read Stripe: ${found.why}; released.`,
        undefined,
        started,
      ),
      "if-applied",
    );
    return applied ? item("released", found.why) : item("skipped", "resolved meanwhile");
  }
  return item(
    "unresolved",
    `not sent again (${refusal}); ${found.why}; an operator must resolve it`,
  );
}

/**
 * Why the write may not be sent again now, or `null` when it may: inside the key's life,
 * and passing every gate a live call would pass.
 */
async function sendRefusal(
  ctx: ReconcileContext,
  tool: AnyStripeTool,
  toolCtx: ToolContext,
  args: unknown,
  admission: Admission,
): Promise<string | null> {
  const now = ctx.clock();
  if (now - admission.created_at >= KEY_LIFE_MS)
    return "Stripe may have forgotten its idempotency key";
  if (ctx.readOnly) return "the server is read-only";
  if (!(tool.name in ctx.policy.policy.tools)) return `the policy no longer offers ${tool.name}`;
  const session = await ctx.store.getSession(admission.session);
  if (session?.state !== "active") return `its session is ${session?.state ?? "gone"}`;
  if (session.expires_at !== null && now >= session.expires_at) return "its session has expired";
  if (readKillFlag(ctx.home, admission.session)) return "a kill flag stops its session";
  const keyId = await ctx.store.sessionKey(admission.session);
  if (keyId !== undefined) {
    const key = await ctx.store.getApiKey(keyId);
    const status = key ? keyStatus(key, now) : "revoked";
    if (status !== "active") return `the key that opened its session is ${status}`;
  }
  try {
    const resolution = await tool.resolve(toolCtx, args);
    if (!inScope(ctx.policy.policy.customers, resolution.customer)) {
      return "its customer is out of the policy's scope";
    }
  } catch (err) {
    return `its object could not be read (${failureOf(err, "read").error.message})`;
  }
  return null;
}

async function replay(
  ctx: ReconcileContext,
  entries: ReconciliationEntries,
  tool: AnyStripeTool,
  toolCtx: ToolContext,
  args: unknown,
  admission: Admission,
  item: (result: ReconcileResult, detail: string) => ReconcileItem,
  started: number,
): Promise<ReconcileItem> {
  const { store } = ctx;
  let result: ToolResult<Record<string, unknown>>;
  try {
    const resolution = await tool.resolve(toolCtx, args);
    result = await tool.handle(toolCtx, args, resolution, (customer) =>
      inScope(ctx.policy.policy.customers, customer),
    );
  } catch (err) {
    const failure = failureOf(err, "write");
    // Inside the key's life, Stripe would have answered with the first result had it applied.
    if (failure.applied === "no" && failure.conclusive) {
      const { applied } = await store.release(
        admission.id,
        entries.entry(
          admission,
          "reconciled",
          failure.error.code,
          `Stripe refused the same request inside the key's life, so the first did not apply: released. ${failure.error.message}`,
          undefined,
          started,
        ),
        "if-applied",
      );
      return applied
        ? item("released", failure.error.message)
        : item("skipped", "resolved meanwhile");
    }
    if (admission.state === "reserved" && failure.applied === "unknown") {
      // It has been sent now, so it is no longer merely reserved.
      await store.markUnknown(
        admission.id,
        entries.entry(
          admission,
          "unknown",
          failure.error.code,
          `Sent again, but Stripe's answer is still unclear: kept counting as unknown. ${failure.error.message}`,
          undefined,
          started,
        ),
        "if-applied",
      );
    }
    return item("unresolved", failure.error.message);
  }
  const settlement = settlementFrom(admission, result, ctx.policy);
  const { applied } = await store.settle(
    admission.id,
    settlement,
    entries.entry(
      admission,
      "reconciled",
      null,
      "Stripe confirmed the request: settled with what it reports.",
      settlement,
      started,
    ),
    "if-applied",
  );
  return applied ? item("settled", result.text) : item("skipped", "resolved meanwhile");
}
