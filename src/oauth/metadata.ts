import { type ProtectedResource, SCOPE } from "./resource.js";

/**
 * The two discovery documents: this server as a protected resource (RFC 9728), naming
 * itself as its authorization server, and that authorization server (RFC 8414), with what
 * it supports: the authorization code flow with PKCE S256 only, registration by RFC 7591
 * or by a Client ID Metadata Document, `client_credentials` for operator-made clients,
 * refresh tokens, revocation (RFC 7009), and `iss` in authorization responses (RFC 9207).
 */

export const ENDPOINTS = {
  authorize: "/authorize",
  token: "/token",
  register: "/register",
  revoke: "/revoke",
} as const;

export const CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"] as const;

export function protectedResourceMetadata(resource: ProtectedResource, pathname: string) {
  return {
    resource: resource.identifierFor(pathname),
    authorization_servers: [resource.base],
    scopes_supported: [SCOPE],
    bearer_methods_supported: ["header"],
    resource_name: "spendguard",
  };
}

export function authorizationServerMetadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}${ENDPOINTS.authorize}`,
    token_endpoint: `${issuer}${ENDPOINTS.token}`,
    registration_endpoint: `${issuer}${ENDPOINTS.register}`,
    revocation_endpoint: `${issuer}${ENDPOINTS.revoke}`,
    scopes_supported: [SCOPE],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    code_challenge_methods_supported: ["S256"],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
}
