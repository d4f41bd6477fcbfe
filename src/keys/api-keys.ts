import { randomBytes } from "node:crypto";
import { ConfigError } from "../errors.js";
import type { ApiKeyKind, ApiKeyRecord, Store } from "../store/store.js";
import { hashSecret, looksLike, newSecret, SECRET_PREFIX, sameHash } from "./secrets.js";

/**
 * The identities HTTP clients act as, and the keys that prove them (`Authorization:
 * Bearer sg_…`). An agent identity carries the agent's name and policy, so nothing a
 * client sends can choose them; an operator key opens the control tools. A key is shown
 * once when created; only its SHA-256 is stored, and logs, the audit and the CLI name it by
 * its id (`key_…`). OAuth identities (grants, `--oauth-client` clients) are rows of the
 * same kind, proven by access tokens instead (`access-tokens.ts`).
 */

const KEY_KIND: Record<ApiKeyKind, "agentKey" | "operatorKey"> = {
  agent: "agentKey",
  operator: "operatorKey",
};
/** Agent and operator names: what `spendguard kill --agent` and the audit show. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface NewApiKey {
  kind: ApiKeyKind;
  name: string;
  /** Absolute path of the policy file; agent keys only. */
  policyFile: string | null;
  /** ms since the epoch; `null` = never. */
  expiresAt: number | null;
  now?: number;
}

/** The record as stored, and the key itself: shown to the operator once, then gone. */
export interface CreatedApiKey {
  record: ApiKeyRecord;
  key: string;
}

/** Refuses a name `kill --agent` and the audit could not show as it is. */
export function checkAgentName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new ConfigError(
      `'${name}' is not a usable name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
}

/** `key_` and 16 hex digits, for every kind of identity. */
export function newIdentityId(): string {
  return `key_${randomBytes(8).toString("hex")}`;
}

export async function createApiKey(store: Store, options: NewApiKey): Promise<CreatedApiKey> {
  checkAgentName(options.name);
  if ((options.kind === "agent") !== (options.policyFile !== null)) {
    throw new ConfigError("an agent key needs a policy file, an operator key takes none");
  }
  const now = options.now ?? Date.now();
  const key = newSecret(KEY_KIND[options.kind]);
  const record: ApiKeyRecord = {
    id: newIdentityId(),
    kind: options.kind,
    name: options.name,
    policy_file: options.policyFile,
    credential: "key",
    key_hash: hashSecret(key),
    oauth_client: null,
    created_at: now,
    expires_at: options.expiresAt,
    revoked_at: null,
    revoked_reason: null,
  };
  await store.createApiKey(record);
  return { record, key };
}

export type KeyStatus = "active" | "expired" | "revoked";

export function keyStatus(record: ApiKeyRecord, now: number): KeyStatus {
  if (record.revoked_at !== null) return "revoked";
  if (record.expires_at !== null && now >= record.expires_at) return "expired";
  return "active";
}

/** Why a request's credential was refused; the codes are what HTTP refusals carry. */
export type KeyRefusal =
  | "key_missing"
  | "key_invalid"
  | "key_expired"
  | "key_revoked"
  | "token_invalid"
  | "token_expired"
  | "token_revoked"
  | "token_wrong_resource"
  | "grant_expired"
  | "grant_revoked";

export type KeyCheck =
  | { ok: true; key: ApiKeyRecord }
  /** `key` is known when the identity was real but is no longer usable. */
  | { ok: false; refusal: KeyRefusal; key?: ApiKeyRecord };

/**
 * Checks a presented key (the bearer token), as every HTTP request does. An OAuth access
 * token is checked by `checkAccessToken` instead: `resources` are the resource identifiers
 * (RFC 8707) this server answers to, so a token issued for another one is refused.
 */
export async function checkApiKey(
  store: Store,
  presented: string | undefined,
  now: number,
  resources: ReadonlySet<string> = new Set(),
): Promise<KeyCheck> {
  if (presented === undefined || presented === "") return { ok: false, refusal: "key_missing" };
  if (presented.startsWith(SECRET_PREFIX.accessToken)) {
    return await checkAccessToken(store, presented, now, resources);
  }
  const kind = looksLike("agentKey", presented)
    ? "agent"
    : looksLike("operatorKey", presented)
      ? "operator"
      : undefined;
  if (!kind) return { ok: false, refusal: "key_invalid" };
  const presentedHash = hashSecret(presented);
  const record = await store.findApiKeyByHash(presentedHash);
  if (
    !record ||
    record.key_hash === null ||
    !sameHash(record.key_hash, presentedHash) ||
    record.kind !== kind
  ) {
    return { ok: false, refusal: "key_invalid" };
  }
  const status = keyStatus(record, now);
  if (status === "revoked") return { ok: false, refusal: "key_revoked", key: record };
  if (status === "expired") return { ok: false, refusal: "key_expired", key: record };
  return { ok: true, key: record };
}

/**
 * An OAuth access token: known, an access token, for one of `resources`, not revoked or
 * expired, and its identity (the grant) still usable. A refused grant names the identity,
 * so the caller can end the sessions it opened; a refused token alone does not (the grant
 * may go on with a refreshed token).
 */
export async function checkAccessToken(
  store: Store,
  presented: string,
  now: number,
  resources: ReadonlySet<string>,
): Promise<KeyCheck> {
  if (!looksLike("accessToken", presented)) return { ok: false, refusal: "token_invalid" };
  const presentedHash = hashSecret(presented);
  const token = await store.findOAuthToken(presentedHash);
  if (token?.kind !== "access" || !sameHash(token.token_hash, presentedHash)) {
    return { ok: false, refusal: "token_invalid" };
  }
  if (!resources.has(token.resource)) return { ok: false, refusal: "token_wrong_resource" };
  const identity = await store.getApiKey(token.grant_id);
  if (!identity || identity.credential === "key") return { ok: false, refusal: "token_invalid" };
  const status = keyStatus(identity, now);
  if (status === "revoked") return { ok: false, refusal: "grant_revoked", key: identity };
  if (status === "expired") return { ok: false, refusal: "grant_expired", key: identity };
  if (token.revoked_at !== null) return { ok: false, refusal: "token_revoked" };
  if (now >= token.expires_at) return { ok: false, refusal: "token_expired" };
  return { ok: true, key: identity };
}

/**
 * Revokes an identity by id — a key, an OAuth grant or an OAuth client: effective on the
 * next request that presents it (or any token issued under it), in every process using
 * this data directory. `changed` is false when it was revoked already.
 */
export async function revokeApiKey(
  store: Store,
  id: string,
  now = Date.now(),
  reason?: string,
): Promise<{ record: ApiKeyRecord; changed: boolean }> {
  if (!(await store.getApiKey(id))) {
    throw new ConfigError(
      `no key '${id}' in this data directory; \`spendguard keys list\` lists them.`,
    );
  }
  const changed = await store.revokeApiKey(id, now, reason);
  const record = await store.getApiKey(id);
  if (!record) throw new Error(`key ${id} vanished from the store`);
  return { record, changed };
}
