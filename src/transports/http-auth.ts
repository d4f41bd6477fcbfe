import type { KeyRefusal } from "../keys/api-keys.js";

/**
 * What an HTTP client is told when its credential does not let it in: the 401's JSON-RPC
 * error and its `WWW-Authenticate` challenge (RFC 6750 §3), which names the protected
 * resource metadata (RFC 9728 §5.1) so MCP clients can start OAuth from it.
 */

/** Why each refusal happened, for people: the JSON-RPC error message of the 401. */
export const KEY_MESSAGES: Record<KeyRefusal, string> = {
  key_missing:
    "No key: send Authorization: Bearer sg_agent_… (or sg_op_… for an operator), or sign in with OAuth.",
  key_invalid: "This key is not valid.",
  key_expired: "This key has expired; ask the operator for a new one.",
  key_revoked: "This key was revoked; ask the operator for a new one.",
  token_invalid: "This access token is not valid; sign in again.",
  token_expired: "This access token has expired; refresh it or sign in again.",
  token_revoked: "This access token was revoked; refresh it or sign in again.",
  token_wrong_resource:
    "This access token was issued for another resource, not this server; sign in to this server.",
  grant_expired:
    "This client's access has expired; sign in again to ask the operator for new access.",
  grant_revoked:
    "The operator revoked this client's access; sign in again to ask the operator for new access.",
};

/** What a challenge names besides the error: where the resource metadata is, and the scope. */
export interface ChallengeParams {
  resourceMetadata?: string;
  scope?: string;
}

/**
 * The `WWW-Authenticate` value of a 401. RFC 6750 §3.1: a request with no credential
 * gets no error code; a bad one gets `invalid_token` with a description (plain ASCII
 * without quotes or backslashes, as the grammar requires: the messages above are).
 */
export function bearerChallenge(refusal: KeyRefusal, params: ChallengeParams = {}): string {
  const parts = ['realm="spendguard"'];
  if (params.resourceMetadata) parts.push(`resource_metadata="${params.resourceMetadata}"`);
  if (params.scope) parts.push(`scope="${params.scope}"`);
  if (refusal !== "key_missing") {
    parts.push('error="invalid_token"', `error_description="${KEY_MESSAGES[refusal]}"`);
  }
  return `Bearer ${parts.join(", ")}`;
}
