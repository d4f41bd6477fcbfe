import type {
  AnyStripeTool,
  FoundOutcome,
  Resolution,
  ToolContext,
  ToolResult,
} from "../../tools/tool.js";
import { SpendguardError } from "../errors.js";
import { type CallCharge, noCharge } from "../money/charge.js";
import type { Denial } from "../policy/decision.js";
import type { LoadedPolicy } from "../policy/load.js";
import { inScope } from "../policy/scope.js";
import type { Admission, AdmissionRequest, AuditEntry, Settlement, Store } from "../store/store.js";
import type { CallTrail } from "./call-trail.js";
import { type CallFacts, decideCaps } from "./decide.js";
import { type CallFailure, failureOf } from "./failures.js";
import { KEY_LIFE_MS } from "./idempotency.js";
import { type CallOutcome, errorOutcome, ZERO_SETTLEMENT } from "./outcome.js";
import { ownerIsGone, readOwners } from "./owner.js";
import { learnOutcome, type ReconciliationEntries } from "./reconcile.js";
import { recordedResult } from "./recorded.js";

/**
 * Repeats of a write: how the guard answers the same call again without doing it twice,
 * before and after Stripe forgets the idempotency key. The guard's own steps (counting,
 * refusing, settling, shaping the answer) are passed in, so a repeat is audited and
 * answered exactly as any other call.
 */

/** What every admission of a call shares, whatever it counts. */
export type AdmissionBase = Pick<
  AdmissionRequest,
  | "session"
  | "agent"
  | "tool"
  | "customer"
  | "args"
  | "account"
  | "owner_pid"
  | "owner_host"
  | "owner_instance"
  | "created_at"
>;

/** The guard's steps a repeat uses. */
export interface RepeatSteps {
  store: Store;
  policy: LoadedPolicy;
  reconciliation: ReconciliationEntries;
  /** What every admission of this call shares. */
  admissionBase(
    trail: CallTrail,
    tool: AnyStripeTool,
    facts: CallFacts,
    replayArgs: Record<string, unknown>,
  ): AdmissionBase;
  denied(trail: CallTrail, decision: Denial): Promise<CallOutcome>;
  /** A kill that landed meanwhile: the admission is released, nothing sent. */
  killedBeforeSending(trail: CallTrail, admission: Admission): Promise<CallOutcome | null>;
  logFailure(trail: CallTrail, err: unknown): void;
  failureEntry(trail: CallTrail, failure: CallFailure): AuditEntry;
  /** `record`: keep the result, so a repeat can be answered from it. */
  settlementOf(
    result: ToolResult<Record<string, unknown>>,
    charge: CallCharge | null,
    record: boolean,
  ): Settlement;
  succeeded(
    trail: CallTrail,
    tool: AnyStripeTool,
    result: ToolResult<Record<string, unknown>>,
    replayed: boolean,
  ): Promise<CallOutcome>;
}

/**
 * The same write again (same session, tool, account, arguments). A repeat is a call, so
 * it counts against the call limits, but it moves nothing: it is answered from what was
 * recorded of the first call; or, while Stripe still keeps the idempotency key (23 h
 * taken as its life), by sending the first request again, which Stripe answers with the
 * first result; or, past the key's life, by reading Stripe for the first request's
 * stamp — never by sending it again. `null`: it cannot be shown to be the same call (an
 * older call with nothing recorded, or one that surely did not apply), so it is a new call.
 */
export async function repeatedCall(
  steps: RepeatSteps,
  trail: CallTrail,
  tool: AnyStripeTool,
  facts: CallFacts,
  ctx: ToolContext,
  resolution: Resolution<unknown>,
  earlier: Admission,
): Promise<CallOutcome | null> {
  const recorded = earlier.state === "settled" ? recordedResult(earlier.result) : null;
  const keyAlive = trail.now - earlier.created_at < KEY_LIFE_MS;
  // An earlier call whose outcome nobody is waiting for becomes this call's to settle.
  const adopt =
    earlier.state === "unknown" ||
    (earlier.state === "reserved" &&
      ownerIsGone(earlier, await readOwners(steps.store, [earlier], trail.now)));
  let found: FoundOutcome<Record<string, unknown>> | null = null;
  if (!recorded && !keyAlive) {
    if (earlier.state === "settled") return null;
    found = await learnOutcome(tool, ctx, facts.args, earlier);
    if (found.applied === "no") {
      await steps.store.release(
        earlier.id,
        steps.reconciliation.entry(
          earlier,
          "reconciled",
          null,
          `Read Stripe: ${found.why}. Released.`,
        ),
        "if-applied",
      );
      return null;
    }
  }

  const counted = await steps.store.admit<Denial>(
    {
      ...steps.admissionBase(trail, tool, facts, {}),
      args: earlier.args,
      call_key: null,
      idempotency_key: null,
      repeat_of: earlier.id,
      amount: 0,
      currency: null,
      amount_cap: 0,
      revenue_at_risk_cap: null,
      cancellation: false,
    },
    (usage) =>
      decideCaps(facts, noCharge(steps.policy.caps.currency), resolution.customer !== null, usage),
  );
  if (!counted.admitted) return steps.denied(trail, counted.decision);
  trail.admission = counted.admission;
  trail.idempotencyKey = earlier.idempotency_key;
  const repeatOf = `repeat of ${earlier.id}`;

  if (recorded) {
    return answerRepeat(
      steps,
      trail,
      tool,
      counted.admission,
      recorded,
      `${repeatOf}, answered from its record`,
    );
  }
  if (found) {
    if (found.applied === "yes") {
      const settlement = steps.settlementOf(found.result, trail.charge, true);
      await steps.store.settle(
        earlier.id,
        settlement,
        steps.reconciliation.entry(
          earlier,
          "reconciled",
          null,
          "Read Stripe: it applied. Settled with what Stripe holds.",
          settlement,
        ),
        "if-applied",
      );
      return answerRepeat(
        steps,
        trail,
        tool,
        counted.admission,
        found.result,
        `${repeatOf}, found by reading Stripe`,
      );
    }
    const error = new SpendguardError(
      "outcome_unknown",
      `The earlier identical call (${earlier.id}) may or may not have gone through, and Stripe no longer remembers its request: ${found.why}. It keeps counting against the caps until an operator resolves it.`,
      "Do not retry: an operator will confirm it (spendguard admissions).",
    );
    await steps.store.settle(
      counted.admission.id,
      ZERO_SETTLEMENT,
      trail.entry("allow", "unknown", error.code, "idempotency", error.message),
    );
    trail.closed();
    return errorOutcome(error);
  }

  // Inside the key's life: Stripe answers the same request with the first result.
  const killed = await steps.killedBeforeSending(trail, counted.admission);
  if (killed) return killed;
  let result: ToolResult<Record<string, unknown>>;
  try {
    result = await tool.handle(
      { ...ctx, idempotencyKey: earlier.idempotency_key ?? undefined, admission: earlier.id },
      facts.args,
      resolution,
      (customer) => inScope(steps.policy.policy.customers, customer),
    );
  } catch (err) {
    const failure = failureOf(err, "write");
    if (failure.unexpected) steps.logFailure(trail, err);
    trail.stripeRequestId = failure.stripeRequestId;
    if (adopt && failure.conclusive && failure.applied === "no") {
      await steps.store.release(
        earlier.id,
        steps.reconciliation.entry(
          earlier,
          "reconciled",
          failure.error.code,
          `Stripe refused the same request inside the key's life, so the first did not apply: released. ${failure.error.message}`,
        ),
      );
    } else if (adopt && earlier.state === "reserved" && failure.applied === "unknown") {
      await steps.store.markUnknown(
        earlier.id,
        steps.reconciliation.entry(
          earlier,
          "unknown",
          failure.error.code,
          `Sent again, but Stripe's answer is still unclear: kept counting as unknown. ${failure.error.message}`,
        ),
      );
    }
    await steps.store.release(counted.admission.id, steps.failureEntry(trail, failure));
    trail.closed();
    return errorOutcome(failure.error);
  }
  if (adopt || earlier.state === "settled") {
    const settlement = steps.settlementOf(result, trail.charge, true);
    await steps.store.settle(
      earlier.id,
      settlement,
      steps.reconciliation.entry(
        earlier,
        "reconciled",
        null,
        "Stripe answered the same request with its first result: settled.",
        settlement,
      ),
      "if-applied",
    );
  }
  return answerRepeat(
    steps,
    trail,
    tool,
    counted.admission,
    result,
    `${repeatOf}: Stripe answered with the first result`,
  );
}

/** A repeat's answer: its counting admission settled at nothing, its one audit row. */
async function answerRepeat(
  steps: RepeatSteps,
  trail: CallTrail,
  tool: AnyStripeTool,
  counted: Admission,
  result: ToolResult<Record<string, unknown>>,
  reason: string,
): Promise<CallOutcome> {
  if (result.stripeRequestId) trail.stripeRequestId = result.stripeRequestId;
  await steps.store.settle(
    counted.id,
    ZERO_SETTLEMENT,
    trail.entry("allow", "replayed", null, "idempotency", reason),
  );
  trail.closed();
  return steps.succeeded(trail, tool, result, true);
}
