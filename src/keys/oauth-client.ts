import { randomBytes } from "node:crypto";
import type { ApiKeyRecord, OAuthClientRecord, Store } from "../store/store.js";
import { checkAgentName, newIdentityId } from "./api-keys.js";
import { hashSecret, newSecret } from "./secrets.js";

/**
 * An agent identity for a headless agent framework that speaks OAuth
 * (`keys create --agent NAME --policy FILE --oauth-client`): a confidential client that
 * trades its id and secret for short-lived access tokens (`client_credentials`, the MCP
 * machine-to-machine extension). The secret is shown once; only its SHA-256 is kept.
 */

export interface CreatedOAuthClient {
  record: ApiKeyRecord;
  client: OAuthClientRecord;
  clientSecret: string;
}

export async function createOAuthClientIdentity(
  store: Store,
  options: { name: string; policyFile: string; expiresAt: number | null; now?: number },
): Promise<CreatedOAuthClient> {
  checkAgentName(options.name);
  const now = options.now ?? Date.now();
  const clientSecret = newSecret("clientSecret");
  const client: OAuthClientRecord = {
    id: `sgc_${randomBytes(12).toString("hex")}`,
    registration: "operator",
    name: options.name,
    redirect_uris: "[]",
    grant_types: JSON.stringify(["client_credentials"]),
    auth_method: "client_secret_basic",
    secret_hash: hashSecret(clientSecret),
    client_uri: null,
    registered_by: "cli",
    created_at: now,
    fresh_until: null,
  };
  const record: ApiKeyRecord = {
    id: newIdentityId(),
    kind: "agent",
    name: options.name,
    policy_file: options.policyFile,
    credential: "oauth_client",
    key_hash: null,
    oauth_client: client.id,
    created_at: now,
    expires_at: options.expiresAt,
    revoked_at: null,
    revoked_reason: null,
  };
  await store.createOAuthIdentity(record, client);
  return { record, client, clientSecret };
}
