import { newIdentityId } from "../keys/api-keys.js";
import { hashSecret, newSecret } from "../keys/secrets.js";
import type { ApiKeyRecord, Store } from "../store/store.js";
import { findClient, type OAuthClient } from "./clients.js";
import { OAuthError } from "./errors.js";
import type { MetadataDocuments } from "./metadata-documents.js";
import { isS256Challenge } from "./pkce.js";
import { matchRedirectUri } from "./redirect-uris.js";
import { type ProtectedResource, SCOPE } from "./resource.js";

/**
 * The authorization endpoint's protocol (OAuth 2.1 §4.1.1, RFC 9207, RFC 8707): checking a
 * request, and turning an operator's choice into a grant and a single-use code. A request
 * whose client or redirect URI cannot be trusted is answered on a page, never redirected
 * (§4.1.2.1); any other refusal goes back to the client's redirect URI with `state` and
 * `iss`.
 */

/** How long a code can be redeemed: long enough for a client to do so at once, no more. */
export const CODE_TTL_MS = 60_000;

/** The parameters the consent form carries back, as the client sent them. */
export const REQUEST_PARAMS = [
  "response_type",
  "client_id",
  "redirect_uri",
  "state",
  "scope",
  "code_challenge",
  "code_challenge_method",
  "resource",
] as const;

export interface AuthorizationRequest {
  client: OAuthClient;
  /** As the client sent it (a loopback port may differ from the registered one). */
  redirectUri: string;
  state: string | undefined;
  /** What the client asked for, as it asked (shown on the consent page). */
  requestedScope: string;
  /** What is granted: spendguard's one scope. */
  scope: string;
  codeChallenge: string;
  resource: string;
  /** The original parameters, for the consent form to send back. */
  params: Record<string, string>;
}

export type AuthorizeCheck =
  /** Nothing may be sent to the redirect URI: a page says why. */
  | { kind: "page"; error: OAuthError }
  /** Refused: the client learns why at its redirect URI. */
  | { kind: "redirect"; location: string }
  | { kind: "valid"; request: AuthorizationRequest };

export interface AuthorizeContext {
  store: Store;
  documents: MetadataDocuments;
  resource: ProtectedResource;
}

export async function checkAuthorizationRequest(
  query: URLSearchParams,
  context: AuthorizeContext,
): Promise<AuthorizeCheck> {
  const page = (error: OAuthError): AuthorizeCheck => ({ kind: "page", error });
  const single = (name: string) => {
    const all = query.getAll(name);
    return { value: all[0], repeated: all.length > 1 };
  };
  const clientId = single("client_id");
  if (clientId.repeated || !clientId.value) {
    return page(
      new OAuthError(
        "invalid_request",
        clientId.repeated ? "client_id is given more than once." : "client_id is missing.",
      ),
    );
  }
  let client: OAuthClient | undefined;
  try {
    client = await findClient(context.store, clientId.value, context.documents);
  } catch (error) {
    if (error instanceof OAuthError) return page(error);
    throw error;
  }
  if (!client) {
    return page(
      new OAuthError(
        "invalid_client",
        "This client is not registered here: the application must register again (its registration may have been made on another spendguard).",
      ),
    );
  }
  const redirect = single("redirect_uri");
  if (redirect.repeated || !redirect.value) {
    return page(
      new OAuthError(
        "invalid_request",
        redirect.repeated ? "redirect_uri is given more than once." : "redirect_uri is missing.",
      ),
    );
  }
  if (!matchRedirectUri(client.redirectUris, redirect.value)) {
    return page(
      new OAuthError(
        "invalid_request",
        "redirect_uri is not one this client registered, so spendguard will not send anything there.",
      ),
    );
  }
  const redirectUri = redirect.value;
  const state = single("state");
  const back = (error: OAuthError): AuthorizeCheck => ({
    kind: "redirect",
    location: errorRedirect(redirectUri, error, state.repeated ? undefined : state.value, context),
  });
  const repeated = REQUEST_PARAMS.find((name) => name !== "resource" && single(name).repeated);
  if (repeated)
    return back(new OAuthError("invalid_request", `${repeated} is given more than once.`));
  const responseType = query.get("response_type");
  if (responseType !== "code") {
    return back(
      new OAuthError(
        "unsupported_response_type",
        responseType ? "Only response_type=code is supported." : "response_type=code is missing.",
      ),
    );
  }
  if (!client.grantTypes.includes("authorization_code")) {
    return back(
      new OAuthError(
        "unauthorized_client",
        "This client may not use the authorization code flow (it is a client_credentials client).",
      ),
    );
  }
  const challenge = query.get("code_challenge");
  if (!challenge) {
    return back(
      new OAuthError(
        "invalid_request",
        "PKCE is required: send code_challenge with code_challenge_method=S256.",
      ),
    );
  }
  if (query.get("code_challenge_method") !== "S256") {
    return back(
      new OAuthError(
        "invalid_request",
        "Only the S256 PKCE method is supported: send code_challenge_method=S256.",
      ),
    );
  }
  if (!isS256Challenge(challenge)) {
    return back(
      new OAuthError(
        "invalid_request",
        "code_challenge is not an S256 challenge (43 base64url characters).",
      ),
    );
  }
  const resources = query.getAll("resource");
  if (resources.length > 1) {
    return back(new OAuthError("invalid_target", "Ask for one resource at a time."));
  }
  const resource =
    resources[0] === undefined ? context.resource.base : context.resource.accepts(resources[0]);
  if (resource === undefined) {
    return back(
      new OAuthError(
        "invalid_target",
        `The resource is not this server: tokens here are for ${context.resource.base}.`,
      ),
    );
  }
  const params: Record<string, string> = {};
  for (const name of REQUEST_PARAMS) {
    const value = query.get(name);
    if (value !== null) params[name] = value;
  }
  return {
    kind: "valid",
    request: {
      client,
      redirectUri,
      state: state.value,
      requestedScope: query.get("scope") ?? "",
      // Other scopes asked for (openid, offline_access, …) are not spendguard's to give:
      // the token says what it was granted (RFC 6749 §3.3).
      scope: SCOPE,
      codeChallenge: challenge,
      resource,
      params,
    },
  };
}

/** What the operator chose on the consent page. */
export interface ConsentChoice {
  agent: string;
  policyFile: string;
  expiresAt: number | null;
}

/**
 * Creates the grant (an agent identity, like a key) and a code for it, and says where the
 * browser goes next: the client's redirect URI with `code`, `state` and `iss`.
 */
export async function approve(
  request: AuthorizationRequest,
  choice: ConsentChoice,
  context: AuthorizeContext,
  now: number,
): Promise<{ grant: ApiKeyRecord; location: string }> {
  const grant: ApiKeyRecord = {
    id: newIdentityId(),
    kind: "agent",
    name: choice.agent,
    policy_file: choice.policyFile,
    credential: "oauth_grant",
    key_hash: null,
    oauth_client: request.client.record.id,
    created_at: now,
    expires_at: choice.expiresAt,
    revoked_at: null,
    revoked_reason: null,
  };
  await context.store.createOAuthIdentity(grant);
  const code = newSecret("authorizationCode");
  await context.store.createOAuthCode({
    code_hash: hashSecret(code),
    client_id: request.client.record.id,
    grant_id: grant.id,
    redirect_uri: request.redirectUri,
    code_challenge: request.codeChallenge,
    resource: request.resource,
    scope: request.scope,
    created_at: now,
    expires_at: now + CODE_TTL_MS,
    used_at: null,
  });
  const location = new URL(request.redirectUri);
  location.searchParams.set("code", code);
  if (request.state !== undefined) location.searchParams.set("state", request.state);
  location.searchParams.set("iss", context.resource.base);
  return { grant, location: location.href };
}

/** The operator said no: `access_denied` at the client's redirect URI. */
export function declineLocation(
  request: AuthorizationRequest,
  context: AuthorizeContext,
  why = "The operator declined to give this client access.",
): string {
  return errorRedirect(
    request.redirectUri,
    new OAuthError("access_denied", why),
    request.state,
    context,
  );
}

function errorRedirect(
  redirectUri: string,
  error: OAuthError,
  state: string | undefined,
  context: AuthorizeContext,
): string {
  const location = new URL(redirectUri);
  location.searchParams.set("error", error.error);
  location.searchParams.set("error_description", error.description);
  if (state !== undefined) location.searchParams.set("state", state);
  location.searchParams.set("iss", context.resource.base);
  return location.href;
}
