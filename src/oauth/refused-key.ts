import type { IncomingMessage } from "node:http";
import { checkApiKey, type KeyRefusal } from "../keys/api-keys.js";
import type { Store } from "../store/store.js";
import { bearerChallenge, KEY_MESSAGES } from "../transports/http-auth.js";
import { bearerToken } from "../transports/http-request.js";
import { OAuthError } from "./errors.js";

/**
 * A client set up with a static key (mcp-remote's `--header`, an SDK's `requestInit`)
 * sends that header with its OAuth requests too. When the key is refused, the MCP
 * endpoint's 401 sends such a client to register and ask a person to sign in, which
 * hides the cause and, in mcp-remote, cannot help: its configured header outranks the
 * token the sign-in brings. So registration and the token endpoint, which clients call
 * from their own code, answer a refused key as RFC 6750 §3.1 says (401 `invalid_token`)
 * with the 401's cause, and the clients print it. Browsers (`/authorize`) carry no such
 * header, clients that only speak OAuth send none here, and an access token is let
 * through, live or not (refreshing it is what the token endpoint is for).
 */

const STATIC_KEY_REFUSALS: ReadonlySet<KeyRefusal> = new Set([
  "key_invalid",
  "key_expired",
  "key_revoked",
]);

/** The refusal to answer with, when the request carries a static key that is refused. */
export async function refusedStaticKey(
  req: IncomingMessage,
  store: Store,
  now: number,
): Promise<{ error: OAuthError; refusal: KeyRefusal; keyId: string | undefined } | undefined> {
  const token = bearerToken(req);
  if (token === undefined) return undefined;
  const check = await checkApiKey(store, token, now);
  if (check.ok || !STATIC_KEY_REFUSALS.has(check.refusal)) return undefined;
  const error = new OAuthError(
    "invalid_token",
    `${KEY_MESSAGES[check.refusal]} (Your client sends this key in an Authorization header of its own: change the header, or remove it to sign in with OAuth.)`,
    401,
    { "WWW-Authenticate": bearerChallenge(check.refusal) },
  );
  return { error, refusal: check.refusal, keyId: check.key?.id };
}
