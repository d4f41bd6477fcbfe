import { hashSecret, newSecret } from "../keys/secrets.js";
import type { ApiKeyRecord, OAuthTokenRecord } from "../store/store.js";

/**
 * Opaque tokens: random, prefixed (`sg_at_…`, `sg_rt_…`), stored only as SHA-256 hashes
 * like agent keys, each bound to its identity (the grant), its client and its resource.
 * Access tokens are short-lived (1 h by default) and never outlive their grant; refresh
 * tokens are rotated on every use and live at most 30 days past their last use.
 */

export const DEFAULT_ACCESS_TOKEN_TTL_MS = 3_600_000;
export const REFRESH_TOKEN_TTL_MS = 30 * 86_400_000;

export interface TokenIssue {
  identity: ApiKeyRecord;
  clientId: string;
  resource: string;
  scope: string;
  now: number;
  accessTtlMs: number;
  /** Whether a refresh token comes with it (not for client_credentials). */
  refresh: boolean;
}

/** The token response (RFC 6749 §5.1) and the records to store for it. */
export interface IssuedTokens {
  response: {
    access_token: string;
    token_type: "Bearer";
    expires_in: number;
    scope: string;
    refresh_token?: string;
  };
  records: OAuthTokenRecord[];
}

export function issueTokens(issue: TokenIssue): IssuedTokens {
  const until = (ttl: number) =>
    Math.min(issue.now + ttl, issue.identity.expires_at ?? Number.MAX_SAFE_INTEGER);
  const record = (kind: OAuthTokenRecord["kind"], token: string, expiresAt: number) => ({
    token_hash: hashSecret(token),
    kind,
    grant_id: issue.identity.id,
    client_id: issue.clientId,
    resource: issue.resource,
    scope: issue.scope,
    created_at: issue.now,
    expires_at: expiresAt,
    rotated_at: null,
    revoked_at: null,
  });
  const access = newSecret("accessToken");
  const accessExpires = until(issue.accessTtlMs);
  const records: OAuthTokenRecord[] = [record("access", access, accessExpires)];
  const response: IssuedTokens["response"] = {
    access_token: access,
    token_type: "Bearer",
    expires_in: Math.max(1, Math.floor((accessExpires - issue.now) / 1000)),
    scope: issue.scope,
  };
  if (issue.refresh) {
    const refresh = newSecret("refreshToken");
    records.push(record("refresh", refresh, until(REFRESH_TOKEN_TTL_MS)));
    response.refresh_token = refresh;
  }
  return { response, records };
}
