import type { IncomingMessage } from "node:http";
import { keyStatus } from "../keys/api-keys.js";
import { hashSecret, looksLike } from "../keys/secrets.js";
import type { Logger } from "../logger.js";
import type { ApiKeyRecord, OAuthTokenRecord, Store } from "../store/store.js";
import { authenticateClient, type OAuthClient } from "./clients.js";
import { OAuthError } from "./errors.js";
import type { MetadataDocuments } from "./metadata-documents.js";
import { verifierMatches } from "./pkce.js";
import { type ProtectedResource, SCOPE } from "./resource.js";
import { type IssuedTokens, issueTokens } from "./tokens.js";

/**
 * The token endpoint (OAuth 2.1 §3.2, §4.1.3, §4.3, §4.2 for client_credentials) and the
 * revocation endpoint (RFC 7009). A code is redeemed once, by the client it was issued to,
 * with the verifier of its PKCE challenge and the redirect URI it was sent to; a second
 * redemption revokes the grant. A refresh token is rotated on every use; a rotated one
 * presented again is a reuse, and revokes the whole grant (OAuth 2.1 §4.3.1).
 */

export interface TokenContext {
  store: Store;
  documents: MetadataDocuments;
  resource: ProtectedResource;
  accessTtlMs: number;
  now: () => number;
  logger: Logger;
}

export async function tokenRequest(
  req: IncomingMessage,
  form: URLSearchParams,
  context: TokenContext,
): Promise<IssuedTokens["response"]> {
  const repeated = [...new Set(form.keys())].find((name) => form.getAll(name).length > 1);
  if (repeated) throw new OAuthError("invalid_request", `${repeated} is given more than once.`);
  const grantType = form.get("grant_type");
  if (!grantType) throw new OAuthError("invalid_request", "grant_type is missing.");
  if (!["authorization_code", "refresh_token", "client_credentials"].includes(grantType)) {
    throw new OAuthError(
      "unsupported_grant_type",
      "grant_type must be authorization_code, refresh_token or client_credentials.",
    );
  }
  const client = await authenticateClient(req, form, context.store, context.documents);
  if (!client.grantTypes.includes(grantType)) {
    throw new OAuthError(
      "unauthorized_client",
      grantType === "client_credentials"
        ? "This client may not use client_credentials: such clients are made by the operator (spendguard keys create --oauth-client)."
        : `This client is not registered for the ${grantType} grant.`,
    );
  }
  if (grantType === "authorization_code") return await redeemCode(form, client, context);
  if (grantType === "refresh_token") return await refresh(form, client, context);
  return await clientCredentials(form, client, context);
}

async function redeemCode(
  form: URLSearchParams,
  client: OAuthClient,
  context: TokenContext,
): Promise<IssuedTokens["response"]> {
  const { store } = context;
  const now = context.now();
  const code = form.get("code");
  if (!code) throw new OAuthError("invalid_request", "code is missing.");
  const redeemed = looksLike("authorizationCode", code)
    ? await store.redeemOAuthCode(hashSecret(code), now)
    : undefined;
  if (!redeemed || redeemed.code.client_id !== client.record.id) {
    throw new OAuthError(
      "invalid_grant",
      "This authorization code is not valid (not issued to this client, or unknown).",
    );
  }
  const issued = redeemed.code;
  if (!redeemed.firstUse) {
    // RFC 6749 §4.1.2: a code used twice may have been stolen; what it gave is taken back.
    await store.revokeApiKey(issued.grant_id, now, "authorization code used twice");
    context.logger.warn(
      { grant: issued.grant_id, client: client.record.id },
      "OAuth authorization code replayed: grant revoked",
    );
    throw new OAuthError(
      "invalid_grant",
      "This authorization code was already used; the access it gave has been revoked. Sign in again.",
    );
  }
  if (now >= issued.expires_at) {
    throw new OAuthError(
      "invalid_grant",
      "This authorization code has expired (codes last 60 seconds); sign in again.",
    );
  }
  const redirectUri = form.get("redirect_uri");
  if (redirectUri !== issued.redirect_uri) {
    throw new OAuthError(
      "invalid_grant",
      redirectUri === null
        ? "redirect_uri is missing: send the one the authorization request named."
        : "redirect_uri differs from the one the authorization request named.",
    );
  }
  const verifier = form.get("code_verifier");
  if (!verifier) {
    throw new OAuthError("invalid_request", "code_verifier is missing (PKCE is required).");
  }
  if (!verifierMatches(verifier, issued.code_challenge)) {
    throw new OAuthError(
      "invalid_grant",
      "code_verifier does not match the code_challenge of the authorization request.",
    );
  }
  checkResource(form, issued.resource, context);
  const identity = await usableIdentity(store, issued.grant_id, now);
  const tokens = issueTokens({
    identity,
    clientId: client.record.id,
    resource: issued.resource,
    scope: issued.scope,
    now,
    accessTtlMs: context.accessTtlMs,
    refresh: client.grantTypes.includes("refresh_token"),
  });
  await store.createOAuthTokens(tokens.records);
  context.logger.info(
    { grant: identity.id, agent: identity.name, client: client.record.id },
    "OAuth tokens issued (authorization code)",
  );
  return tokens.response;
}

async function refresh(
  form: URLSearchParams,
  client: OAuthClient,
  context: TokenContext,
): Promise<IssuedTokens["response"]> {
  const { store } = context;
  const now = context.now();
  const presented = form.get("refresh_token");
  if (!presented) throw new OAuthError("invalid_request", "refresh_token is missing.");
  const hash = hashSecret(presented);
  const token = looksLike("refreshToken", presented) ? await store.findOAuthToken(hash) : undefined;
  if (token?.kind !== "refresh" || token.client_id !== client.record.id) {
    throw new OAuthError(
      "invalid_grant",
      "This refresh token is not valid (not issued to this client, or unknown).",
    );
  }
  if (token.rotated_at !== null) return await reused(token, context, now);
  if (token.revoked_at !== null) {
    throw new OAuthError("invalid_grant", "This refresh token was revoked; sign in again.");
  }
  if (now >= token.expires_at) {
    throw new OAuthError("invalid_grant", "This refresh token has expired; sign in again.");
  }
  checkResource(form, token.resource, context);
  // A scope asked for on refresh cannot widen anything: the one scope granted stays.
  const identity = await usableIdentity(store, token.grant_id, now);
  const tokens = issueTokens({
    identity,
    clientId: client.record.id,
    resource: token.resource,
    scope: token.scope,
    now,
    accessTtlMs: context.accessTtlMs,
    refresh: true,
  });
  // Whoever rotates first wins; the other presented a token already used.
  if (!(await store.rotateRefreshToken(hash, now, tokens.records)))
    return await reused(token, context, now);
  context.logger.info(
    { grant: identity.id, agent: identity.name, client: client.record.id },
    "OAuth tokens refreshed",
  );
  return tokens.response;
}

async function reused(token: OAuthTokenRecord, context: TokenContext, now: number): Promise<never> {
  await context.store.revokeApiKey(token.grant_id, now, "refresh token reused");
  context.logger.warn(
    { grant: token.grant_id, client: token.client_id },
    "OAuth refresh token reused: grant revoked",
  );
  throw new OAuthError(
    "invalid_grant",
    "This refresh token was already used once, so it may have been stolen: the whole grant is revoked. Sign in again.",
  );
}

async function clientCredentials(
  form: URLSearchParams,
  client: OAuthClient,
  context: TokenContext,
): Promise<IssuedTokens["response"]> {
  const { store } = context;
  const now = context.now();
  const identity = (await store.listApiKeys()).find(
    (key) => key.credential === "oauth_client" && key.oauth_client === client.record.id,
  );
  if (!identity) {
    throw new OAuthError("unauthorized_client", "This client has no agent identity.");
  }
  const status = keyStatus(identity, now);
  if (status !== "active") {
    throw new OAuthError(
      "invalid_client",
      status === "revoked"
        ? "This client was revoked by the operator; ask for a new one."
        : "This client has expired; ask the operator for a new one.",
      401,
    );
  }
  const requested = form.get("resource");
  const resource = requested === null ? context.resource.base : context.resource.accepts(requested);
  if (resource === undefined) {
    throw new OAuthError(
      "invalid_target",
      `The resource is not this server: tokens here are for ${context.resource.base}.`,
    );
  }
  const tokens = issueTokens({
    identity,
    clientId: client.record.id,
    resource,
    scope: SCOPE,
    now,
    accessTtlMs: context.accessTtlMs,
    refresh: false,
  });
  await store.createOAuthTokens(tokens.records);
  context.logger.info(
    { grant: identity.id, agent: identity.name, client: client.record.id },
    "OAuth tokens issued (client credentials)",
  );
  return tokens.response;
}

/** RFC 8707 §2.2: a token request may name the resource, which must be the one granted. */
function checkResource(form: URLSearchParams, granted: string, context: TokenContext): void {
  const requested = form.get("resource");
  if (requested === null) return;
  if (context.resource.accepts(requested) !== granted) {
    throw new OAuthError(
      "invalid_target",
      `The resource differs from the one access was granted for (${granted}).`,
    );
  }
}

async function usableIdentity(store: Store, grantId: string, now: number): Promise<ApiKeyRecord> {
  const identity = await store.getApiKey(grantId);
  const status = identity ? keyStatus(identity, now) : "revoked";
  if (!identity || status !== "active") {
    throw new OAuthError(
      "invalid_grant",
      status === "expired"
        ? "This access has expired; sign in again."
        : "The operator revoked this access; sign in again to ask for new access.",
    );
  }
  return identity;
}

/**
 * RFC 7009: revokes a token the client holds. A refresh token takes its grant with it (the
 * client is signing out); an access token goes alone. Unknown tokens are not an error
 * (§2.2): the answer is the same, so it tells nothing.
 */
export async function revocationRequest(
  req: IncomingMessage,
  form: URLSearchParams,
  context: TokenContext,
): Promise<void> {
  const client = await authenticateClient(req, form, context.store, context.documents);
  const presented = form.get("token");
  if (!presented) throw new OAuthError("invalid_request", "token is missing.");
  const hint = form.get("token_type_hint");
  if (hint !== null && hint !== "access_token" && hint !== "refresh_token") {
    throw new OAuthError(
      "unsupported_token_type",
      "token_type_hint must be access_token or refresh_token.",
    );
  }
  const hash = hashSecret(presented);
  const token = await context.store.findOAuthToken(hash);
  if (!token) return;
  if (token.client_id !== client.record.id) {
    throw new OAuthError("invalid_request", "This token was not issued to this client.");
  }
  const now = context.now();
  if (token.kind === "refresh") {
    const identity = await context.store.getApiKey(token.grant_id);
    if (identity?.credential === "oauth_grant") {
      await context.store.revokeApiKey(identity.id, now, "revoked by the client");
    }
  }
  await context.store.revokeOAuthToken(hash, now);
  context.logger.info(
    { grant: token.grant_id, client: client.record.id, kind: token.kind },
    "OAuth token revoked by its client",
  );
}
