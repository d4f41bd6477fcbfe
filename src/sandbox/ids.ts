import { randomInt } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randomAlphanumeric(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Makes the id of a new object from its Stripe prefix (`ch`, `cus`, `re`, …). */
export type IdMaker = (prefix: string) => string;

/** Ids shaped like Stripe's: prefix, underscore, 24 random alphanumerics. */
export const randomId: IdMaker = (prefix) => `${prefix}_${randomAlphanumeric(24)}`;

/** `req_` plus 14 random alphanumerics, as in Stripe's `Request-Id` header. */
export function requestId(): string {
  return `req_${randomAlphanumeric(14)}`;
}

/** Predictable ids (`card_SgSeed0001`, …) for the objects a seed creates without naming them. */
export function sequentialIds(tag: string): IdMaker {
  let next = 1;
  return (prefix) => `${prefix}_${tag}${String(next++).padStart(4, "0")}`;
}

/** A secret that only has to look like Stripe's (`pi_…_secret_…`). */
export function clientSecret(id: string): string {
  return `${id}_secret_${randomAlphanumeric(25)}`;
}
