import { createHash, timingSafeEqual } from "node:crypto";

/**
 * PKCE (RFC 7636), `S256` only, as OAuth 2.1 and MCP require: the challenge is the
 * base64url SHA-256 of a verifier of 43 to 128 unreserved characters.
 */

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** What S256 yields: 32 bytes in base64url, no padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

export function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** Whether `verifier` is well-formed and hashes to `challenge`. */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  const expected = Buffer.from(challenge);
  const actual = Buffer.from(s256(verifier));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
