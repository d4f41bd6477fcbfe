import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The secrets spendguard hands out, each with a prefix that says what it is (and lets
 * `redactSecrets` find it in any text): 32 random bytes in base64url, 43 characters after
 * the prefix. Only their SHA-256 is ever stored.
 */
export const SECRET_PREFIX = {
  agentKey: "sg_agent_",
  operatorKey: "sg_op_",
  accessToken: "sg_at_",
  refreshToken: "sg_rt_",
  authorizationCode: "sg_ac_",
  clientSecret: "sg_cs_",
} as const;

export type SecretKind = keyof typeof SECRET_PREFIX;

const BODY = /^[A-Za-z0-9_-]{43}$/;

export function newSecret(kind: SecretKind): string {
  return `${SECRET_PREFIX[kind]}${randomBytes(32).toString("base64url")}`;
}

/** Whether `text` has the shape of a secret of this kind (before any lookup). */
export function looksLike(kind: SecretKind, text: string): boolean {
  const prefix = SECRET_PREFIX[kind];
  return text.startsWith(prefix) && BODY.test(text.slice(prefix.length));
}

/** SHA-256 (hex): what the store keeps and looks secrets up by. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/**
 * Compares two hashes in constant time. Lookups go by hash (a caller chooses the secret,
 * not its hash, so an index walk tells them nothing); the final comparison is constant-time
 * all the same.
 */
export function sameHash(stored: string, presented: string): boolean {
  const a = Buffer.from(stored, "hex");
  const b = Buffer.from(presented, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
