import { createHmac } from "node:crypto";

/**
 * `Spendguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the
 * scheme Stripe signs its webhooks with: the receiver recomputes the HMAC with the shared
 * secret and refuses a mismatch or an old `t` (a replay). Each attempt is signed anew.
 */
export const SIGNATURE_HEADER = "Spendguard-Signature";

export function signatureHeader(body: string, secret: string, unixSeconds: number): string {
  const v1 = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${v1}`;
}
