import { SpendguardError } from "../errors.js";
import { classifyStripeFailure } from "../stripe/errors.js";

/**
 * What a failed `resolve` or `handle` means for the ledger: surely not applied (release),
 * or maybe applied (keep counting as `unknown` until reconciled).
 */
export interface CallFailure {
  error: SpendguardError;
  applied: "no" | "unknown";
  stripeRequestId: string | null;
  /** Neither Stripe's answer nor a tool's deliberate refusal: a bug, worth an error log. */
  unexpected: boolean;
  /**
   * The refusal also answers for an earlier request with the same idempotency key:
   * Stripe examined this one (and would have replayed an earlier success instead), or the
   * tool refused before sending anything. Only then may a replay release what an earlier
   * call left `unknown`; a rate limit, a refused connection, a key or permission problem
   * or an idempotency conflict says nothing about the earlier request.
   */
  conclusive: boolean;
}

/**
 * `earlierAttemptMayHaveApplied`: the SDK retried this write after an answer that left its
 * outcome open (see `src/stripe/attempts.ts`), so a last refusal made before Stripe looked
 * does not mean it was not applied.
 */
export function failureOf(
  err: unknown,
  kind: "read" | "write",
  earlierAttemptMayHaveApplied = false,
): CallFailure {
  if (err instanceof SpendguardError) {
    // Tools throw our own error only to refuse before anything is sent.
    return {
      error: err,
      applied: "no",
      stripeRequestId: null,
      unexpected: false,
      conclusive: true,
    };
  }
  const stripe = classifyStripeFailure(err);
  if (stripe && kind === "write" && !stripe.conclusive && earlierAttemptMayHaveApplied) {
    return {
      error: new SpendguardError(
        "outcome_unknown",
        "Stripe stopped answering after it may already have applied this request; the outcome is being confirmed.",
        "Do not repeat this with different arguments. Repeat the same call to confirm the outcome; its amount keeps counting against the caps until then.",
      ),
      applied: "unknown",
      stripeRequestId: stripe.stripeRequestId ?? null,
      unexpected: false,
      conclusive: false,
    };
  }
  if (stripe) {
    const maybeApplied = stripe.applied === "unknown";
    return {
      // A read that may have reached Stripe changed nothing: it simply failed.
      error:
        kind === "read" && maybeApplied
          ? new SpendguardError(
              "stripe_unavailable",
              "Stripe did not answer properly; nothing was changed.",
              "Try again in a moment.",
            )
          : stripe.error,
      applied: kind === "read" ? "no" : stripe.applied,
      stripeRequestId: stripe.stripeRequestId ?? null,
      unexpected: false,
      conclusive: stripe.conclusive,
    };
  }
  return {
    error: new SpendguardError(
      "internal_error",
      "spendguard failed while handling this call; the operator's log has the details.",
      kind === "write"
        ? "Its outcome is being confirmed and its amount keeps counting against the caps until then. Do not retry it with different arguments."
        : "Nothing was changed. Try again; if it keeps failing, tell the user.",
    ),
    applied: kind === "write" ? "unknown" : "no",
    stripeRequestId: null,
    unexpected: true,
    conclusive: false,
  };
}

/**
 * A write's handler failed before any request of it left for Stripe (a bug, text the SDK
 * cannot encode): nothing was sent, so nothing can have been applied. A tool's own
 * refusal passes as it is; anything else becomes a refusal that releases the reservation.
 */
export function failedBeforeSending(err: unknown): SpendguardError {
  if (err instanceof SpendguardError) return err;
  return new SpendguardError(
    "internal_error",
    "spendguard failed before sending this call to Stripe; nothing was changed. The operator's log has the details.",
    "Nothing was changed. Try again; if it keeps failing, tell the user.",
  );
}
