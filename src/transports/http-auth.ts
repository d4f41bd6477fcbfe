import type { IncomingMessage, ServerResponse } from "node:http";
import type { KeyCheck, KeyRefusal } from "../keys/api-keys.js";
import { bearerToken } from "./http-request.js";

/**
 * What an HTTP client is told when its key does not let it in, in the two places clients
 * look: the 401's `WWW-Authenticate` challenge (RFC 6750) and, because MCP clients answer
 * any 401 by starting OAuth discovery, the OAuth endpoints they then try. spendguard has
 * no authorization server yet, so those endpoints answer 404 with an OAuth-shaped error
 * whose description is the real cause: mcp-remote and the Inspector print that body
 * ("Dynamic Client Registration rejected (HTTP 404): {…}"). Real OAuth (RFC 8414, 9728,
 * 7591) replaces `answerOAuthDiscovery` with its own routes and keeps the challenge.
 */

/** Why each refusal happened, for people: the JSON-RPC error message of the 401. */
export const KEY_MESSAGES: Record<KeyRefusal, string> = {
  key_missing: "No key: send Authorization: Bearer sg_agent_… (or sg_op_… for an operator).",
  key_invalid: "This key is not valid.",
  key_expired: "This key has expired; ask the operator for a new one.",
  key_revoked: "This key was revoked; ask the operator for a new one.",
};

/**
 * The `WWW-Authenticate` value of a 401. RFC 6750 §3.1: a request with no credential
 * gets no error code; a bad one gets `invalid_token` with a description (plain ASCII
 * without quotes or backslashes, as the grammar requires: the messages above are).
 */
export function bearerChallenge(refusal: KeyRefusal): string {
  if (refusal === "key_missing") return 'Bearer realm="spendguard"';
  return `Bearer realm="spendguard", error="invalid_token", error_description="${KEY_MESSAGES[refusal]}"`;
}

/** The paths OAuth clients (MCP SDKs, mcp-remote, Inspector) try after a 401. */
export function isOAuthDiscoveryPath(pathname: string): boolean {
  return OAUTH_ENDPOINTS.has(pathname) || OAUTH_METADATA.test(pathname);
}

/**
 * Answers one of those paths: 404 (no OAuth here), with the cause a person can act on.
 * Some clients (mcp-remote) send their configured `Authorization` header here too: then
 * the description names what is wrong with that key; otherwise it says how to connect.
 */
export function answerOAuthDiscovery(
  req: IncomingMessage,
  res: ServerResponse,
  checkKey: (token: string | undefined) => KeyCheck,
): void {
  const token = bearerToken(req);
  const check = token === undefined ? undefined : checkKey(token);
  const cause =
    check === undefined
      ? "This request carried no key; if your client sends one to /mcp, the 401 there says why it was refused."
      : check.ok
        ? "The key this request carries is valid: send it to /mcp (or /sse) with Authorization: Bearer."
        : KEY_MESSAGES[check.refusal];
  const body = JSON.stringify({
    error: check && !check.ok ? "invalid_token" : "invalid_request",
    error_description: `${cause} ${NO_OAUTH}`,
  });
  res.writeHead(404, { "Content-Type": "application/json", "Cache-Control": "no-store" }).end(body);
}

const NO_OAUTH =
  "spendguard does not sign clients in with OAuth: it takes an agent key made by `spendguard keys create`, sent as Authorization: Bearer sg_agent_…";

/**
 * RFC 9728 / 8414 / OpenID metadata, with the path suffix clients add
 * (`/.well-known/oauth-protected-resource/mcp`) or the prefix (`/mcp/.well-known/…`).
 */
const OAUTH_METADATA =
  /^(?:\/[^/]+)*\/\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)(?:\/.*)?$/;

/** The default endpoints clients fall back to when no metadata names others. */
const OAUTH_ENDPOINTS = new Set(["/register", "/authorize", "/token"]);
