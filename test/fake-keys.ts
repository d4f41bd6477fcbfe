/**
 * Stripe-key-shaped strings for tests, built at run time: a `rk_live_…` literal in git
 * reads as a leaked key to every secret scanner, and none of these is a real key.
 */
export function fakeStripeKey(kind: "rk" | "sk" | "pk", mode: "live" | "test", body: string) {
  return [kind, mode, body].join("_");
}
