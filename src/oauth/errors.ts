import type { ServerResponse } from "node:http";

/**
 * Every refusal of the authorization server is an OAuth error response (RFC 6749 §5.2,
 * RFC 7591 §3.2.2, RFC 7009 §2.2.1, RFC 8707 §2, RFC 6750 §3.1): a registered `error` code and an
 * `error_description` a person can act on. Descriptions are spendguard's own words, never
 * a client's text and never a secret.
 */

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  /** RFC 6750 §3.1: a bearer credential sent with the request is refused. */
  | "invalid_token"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "unsupported_token_type"
  | "temporarily_unavailable"
  | "server_error";

export class OAuthError extends Error {
  override name = "OAuthError";
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

/** RFC 6749 §5.1: token responses and errors are never cached. */
export const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { ...headers, "Content-Type": "application/json" })
    .end(JSON.stringify(body));
}

export function sendOAuthError(res: ServerResponse, error: OAuthError): void {
  sendJson(
    res,
    error.status,
    { error: error.error, error_description: descriptionText(error.description) },
    { ...NO_STORE, ...error.headers },
  );
}

/**
 * RFC 6749 §5.2 allows only printable ASCII without `"` and `\` in a description: what
 * our own words hold anyway, enforced here so nothing else can slip through.
 */
export function descriptionText(text: string): string {
  return text
    .replace(/[‘’]/g, "'")
    .replace(/…/g, "...")
    .replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "?")
    .slice(0, 500);
}
