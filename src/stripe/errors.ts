import Stripe from "stripe";
import { redactSecrets } from "../audit/redact.js";
import { SpendguardError } from "../errors.js";

/**
 * Maps the stripe SDK's error classes, once, to our stable codes, and says whether the
 * request may have been applied — which decides release (surely not applied) versus
 * `unknown` (keep the reservation counting until reconciled).
 */
export interface StripeFailure {
  error: SpendguardError;
  /** `no`: Stripe surely did not apply it. `unknown`: it may have (timeout, reset, 5xx). */
  applied: "no" | "unknown";
  /**
   * Stripe examined the request and refused it, so an earlier request with the same
   * idempotency key did not apply either (Stripe would have answered with its result).
   * Refusals made before Stripe examines a request — a rate limit, no connection, the key
   * or its permissions, the key in use or reused — say nothing about an earlier one.
   */
  conclusive: boolean;
  stripeRequestId?: string;
}

const MISSING_PERMISSION = /'(rak_[a-z_]+)'/;

export function classifyStripeFailure(err: unknown): StripeFailure | undefined {
  if (!(err instanceof Stripe.errors.StripeError)) return undefined;
  const message = redactSecrets(err.message);
  const stripeRequestId = err.requestId;
  const refused = (error: SpendguardError, conclusive: boolean): StripeFailure => ({
    error,
    applied: "no",
    conclusive,
    ...(stripeRequestId ? { stripeRequestId } : {}),
  });

  if (err instanceof Stripe.errors.StripePermissionError) {
    const permission = MISSING_PERMISSION.exec(err.message)?.[1];
    return refused(
      new SpendguardError(
        "stripe_permission_denied",
        permission
          ? `The Stripe key spendguard uses lacks the '${permission}' permission for this request.`
          : `Stripe refused the request for lack of permission: ${message}`,
        "Nothing was changed. Ask the operator to grant the permission on the restricted key (see `spendguard scopes`).",
      ),
      false,
    );
  }
  if (err instanceof Stripe.errors.StripeAuthenticationError) {
    return refused(
      new SpendguardError(
        "stripe_error",
        "Stripe did not accept spendguard's API key.",
        "Nothing was changed. The operator must check STRIPE_API_KEY.",
      ),
      false,
    );
  }
  if (err instanceof Stripe.errors.StripeRateLimitError) {
    return refused(
      new SpendguardError(
        "stripe_unavailable",
        "Stripe is rate limiting requests right now; nothing was changed.",
        "Wait a little and try again.",
      ),
      false,
    );
  }
  if (err instanceof Stripe.errors.StripeConnectionError) {
    // A refused connection never carried the request; anything else may have reached Stripe.
    const neverSent = neverReachedStripe(err.detail ?? err.message);
    return {
      error: new SpendguardError(
        neverSent ? "stripe_unavailable" : "outcome_unknown",
        neverSent
          ? "Stripe cannot be reached; nothing was changed."
          : "The connection to Stripe broke before its answer arrived; the outcome is being confirmed.",
        neverSent
          ? "Try again later."
          : "Do not repeat this with different arguments. Repeat the same call to confirm the outcome; its amount keeps counting against the caps until then.",
      ),
      applied: neverSent ? "no" : "unknown",
      conclusive: false,
    };
  }
  if (err instanceof Stripe.errors.StripeAPIError) {
    return {
      error: new SpendguardError(
        "outcome_unknown",
        "Stripe failed while handling the request; the outcome is being confirmed.",
        "Repeat the same call to confirm the outcome; its amount keeps counting against the caps until then.",
      ),
      applied: "unknown",
      conclusive: false,
      ...(stripeRequestId ? { stripeRequestId } : {}),
    };
  }
  // Card declines, invalid requests, idempotency conflicts: Stripe refused, nothing applied.
  return refused(
    new SpendguardError("stripe_error", `Stripe refused the request: ${message}`, stripeHint(err)),
    !(err instanceof Stripe.errors.StripeIdempotencyError),
  );
}

/** A connection that was never made (refused, no such host) cannot have carried a request. */
export function neverReachedStripe(networkError: unknown): boolean {
  return /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(String(networkError));
}

function stripeHint(err: Stripe.errors.StripeError): string {
  if (err.code === "resource_missing") return "Check the id; it does not exist on this account.";
  if (err.code === "charge_already_refunded") return "The charge is already fully refunded.";
  if (err instanceof Stripe.errors.StripeCardError)
    return "The card was declined; nothing was charged.";
  return "Nothing was changed. Read Stripe's message, fix the arguments and try again.";
}
