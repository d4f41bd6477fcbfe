import { createHash } from "node:crypto";
import { canonicalJson } from "../audit/canonical.js";

/**
 * Stripe keeps an `Idempotency-Key` for 24 hours, then treats it as new. spendguard takes
 * 23 h as a key's life, a margin for clocks that disagree: past it, a request is never
 * sent again with the same key (it could do the same thing twice).
 */
export const KEY_LIFE_MS = 23 * 60 * 60 * 1000;

/**
 * The key of a call: the same session asking the same tool for the same thing (same
 * arguments, same connected account) is the same call, so a repeat is recognised and
 * answered with the first result instead of doing it twice. Stripe allows keys up to 255
 * characters.
 */
export function idempotencyKey(
  session: string,
  tool: string,
  account: string | null,
  args: Record<string, unknown>,
): string {
  const digest = createHash("sha256")
    .update(canonicalJson({ account, args, session, tool }))
    .digest("hex");
  return `sg_${digest}`;
}

/**
 * The `Idempotency-Key` an attempt of a call sends. The first sends the call's key; an
 * attempt after earlier ones that surely applied nothing (a card decline, say) sends a
 * fresh one, or Stripe would answer it with the cached refusal for a day.
 */
export function attemptKey(callKey: string, earlierAttempts: number): string {
  return earlierAttempts === 0 ? callKey : `${callKey}_${earlierAttempts}`;
}
