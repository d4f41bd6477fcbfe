import { createHash } from "node:crypto";
import { canonicalJson } from "../audit/canonical.js";

/**
 * The Idempotency-Key of a write: the same session asking the same tool for the same thing
 * (same arguments, same connected account) gets the same key, so Stripe answers a repeat
 * with the first result instead of doing it twice. Stripe allows keys up to 255 characters.
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
