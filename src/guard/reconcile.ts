import { performance } from "node:perf_hooks";
import type { pino } from "pino";
import type Stripe from "stripe";
import type { AnyTool, ToolContext, ToolResult } from "../../tools/tool.js";
import { redactError } from "../audit/redact-error.js";
import { settledCap } from "../money/charge.js";
import type { LoadedPolicy } from "../policy/load.js";
import { inScope } from "../policy/scope.js";
import type { Admission, AuditEntry, AuditOutcome, Store } from "../store/store.js";
import { failureOf } from "./failures.js";
import { readKillFlag } from "./kill.js";
import { ownerIsGone } from "./owner.js";

/**
 * Finds out what happened to writes whose outcome is not known — `unknown` ones, and
 * `reserved` ones whose process is gone — by replaying each with its stored tool,
 * arguments, account and idempotency key: Stripe answers with the first result if the
 * request got there, or does it now. Then the admission is settled with what Stripe
 * reports, or released if Stripe refuses; anything still unclear stays counted.
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
  /** Not replayed on purpose (killed session, tool not in this build): left for an operator. */
  skipped: number;
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
  clock: () => number;
  logger: pino.Logger;
}

export async function reconcileAdmissions(ctx: ReconcileContext): Promise<ReconcileReport> {
  const now = ctx.clock();
  const pending = ctx.store
    .listAdmissions({ states: ["unknown", "reserved"], agent: ctx.agent })
    .filter((admission) => admission.state === "unknown" || ownerIsGone(admission, now));
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
      items.push(await reconcileOne(ctx, admission, item));
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
    items,
  };
}

async function reconcileOne(
  ctx: ReconcileContext,
  admission: Admission,
  item: (result: ReconcileResult, detail: string) => ReconcileItem,
): Promise<ReconcileItem> {
  const started = performance.now();
  const audit = (
    outcome: AuditOutcome,
    code: string | null,
    reason: string,
    result?: { amount: number; amount_cap: number; stripe_request_id: string | null },
  ): AuditEntry => ({
    at: new Date(ctx.clock()).toISOString(),
    session: admission.session,
    agent: admission.agent,
    tool: admission.tool,
    args: admission.args,
    decision: "allow",
    code,
    rule: "reconcile",
    reason,
    stripe_request_id: result?.stripe_request_id ?? null,
    idempotency_key: admission.idempotency_key,
    amount: result?.amount ?? admission.amount,
    currency: admission.currency,
    amount_cap: result?.amount_cap ?? admission.amount_cap,
    cap_currency: admission.currency === null ? null : ctx.policy.caps.currency,
    revenue_at_risk_cap: admission.revenue_at_risk_cap,
    customer: admission.customer,
    outcome,
    duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
  });

  if (admission.idempotency_key === null) {
    // A read cut short by a crash: nothing reached Stripe that needs confirming.
    const { applied } = ctx.store.release(
      admission.id,
      audit("reconciled", null, "A read interrupted before it finished; nothing to confirm."),
      "if-applied",
    );
    return item(applied ? "released" : "skipped", "an interrupted read");
  }
  const tool = ctx.tools.get(admission.tool);
  if (tool?.kind !== "write") {
    return item("skipped", `no write tool named ${admission.tool} in this build`);
  }
  // A replay can perform a write that never reached Stripe: not for a stopped session.
  const session = ctx.store.getSession(admission.session);
  if (session?.state === "killed" || readKillFlag(ctx.home, admission.session)) {
    return item("skipped", "its session was killed; an operator must resolve it");
  }
  const parsed = tool.input.safeParse(JSON.parse(admission.args));
  if (!parsed.success) return item("skipped", "its stored arguments no longer parse");

  const toolCtx: ToolContext = {
    stripe: ctx.stripe,
    requestOptions: admission.account ? { stripeAccount: admission.account } : {},
    idempotencyKey: admission.idempotency_key,
    pii: ctx.policy.policy.pii,
  };
  let result: ToolResult<unknown>;
  try {
    const resolution = await tool.resolve(toolCtx, parsed.data);
    result = await tool.handle(toolCtx, parsed.data, resolution, (customer) =>
      inScope(ctx.policy.policy.customers, customer),
    );
  } catch (err) {
    const failure = failureOf(err, "write");
    if (failure.applied === "no" && failure.conclusive) {
      const { applied } = ctx.store.release(
        admission.id,
        audit(
          "reconciled",
          failure.error.code,
          `Stripe refused the replay, so the first request did not apply: released. ${failure.error.message}`,
        ),
        "if-applied",
      );
      return applied
        ? item("released", failure.error.message)
        : item("skipped", "resolved meanwhile");
    }
    if (admission.state === "reserved" && failure.applied === "unknown") {
      // It has been sent now, so it is no longer merely reserved.
      ctx.store.markUnknown(
        admission.id,
        audit(
          "unknown",
          failure.error.code,
          `Replayed, but Stripe's answer is still unclear: kept counting as unknown. ${failure.error.message}`,
        ),
        "if-applied",
      );
    }
    return item("unresolved", failure.error.message);
  }
  const moved =
    result.moved ??
    (admission.currency ? { amount: admission.amount, currency: admission.currency } : null);
  const settlement = {
    amount: moved?.amount ?? 0,
    amount_cap: moved ? settledCap(moved, admission.amount_cap, ctx.policy.caps.fx) : 0,
    stripe_request_id: result.stripeRequestId ?? null,
  };
  const { applied } = ctx.store.settle(
    admission.id,
    settlement,
    audit(
      "reconciled",
      null,
      "Stripe confirmed the request: settled with what it reports.",
      settlement,
    ),
    "if-applied",
  );
  return applied ? item("settled", result.text) : item("skipped", "resolved meanwhile");
}
