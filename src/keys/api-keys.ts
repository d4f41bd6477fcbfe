import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../errors.js";
import type { ApiKeyKind, ApiKeyRecord, Store } from "../store/store.js";

/**
 * The keys HTTP clients present (`Authorization: Bearer sg_…`). An agent key carries the
 * agent's identity and policy, so nothing a client sends can choose them; an operator key
 * opens the control tools. A key is shown once when created; only its SHA-256 is stored,
 * and logs, the audit and the CLI name it by its id (`key_…`).
 */

const PREFIX: Record<ApiKeyKind, string> = { agent: "sg_agent_", operator: "sg_op_" };
/** 32 random bytes in base64url: 43 characters. */
const KEY_PATTERN = /^sg_(agent|op)_[A-Za-z0-9_-]{43}$/;
/** Agent and operator names: what `spendguard kill --agent` and the audit show. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

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

export function createApiKey(store: Store, options: NewApiKey): CreatedApiKey {
  if (!NAME_PATTERN.test(options.name)) {
    throw new ConfigError(
      `'${options.name}' is not a usable name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
  if ((options.kind === "agent") !== (options.policyFile !== null)) {
    throw new ConfigError("an agent key needs a policy file, an operator key takes none");
  }
  const now = options.now ?? Date.now();
  const key = `${PREFIX[options.kind]}${randomBytes(32).toString("base64url")}`;
  const record: ApiKeyRecord = {
    id: `key_${randomBytes(8).toString("hex")}`,
    kind: options.kind,
    name: options.name,
    policy_file: options.policyFile,
    key_hash: hashKey(key),
    created_at: now,
    expires_at: options.expiresAt,
    revoked_at: null,
  };
  store.createApiKey(record);
  return { record, key };
}

export type KeyStatus = "active" | "expired" | "revoked";

export function keyStatus(record: ApiKeyRecord, now: number): KeyStatus {
  if (record.revoked_at !== null) return "revoked";
  if (record.expires_at !== null && now >= record.expires_at) return "expired";
  return "active";
}

/** Why a request's key was refused; the codes are what HTTP refusals carry. */
export type KeyRefusal = "key_missing" | "key_invalid" | "key_expired" | "key_revoked";

export type KeyCheck =
  | { ok: true; key: ApiKeyRecord }
  /** `key` is known when the key was real but is no longer usable. */
  | { ok: false; refusal: KeyRefusal; key?: ApiKeyRecord };

/** Checks a presented key (the bearer token), as every HTTP request does. */
export function checkApiKey(store: Store, presented: string | undefined, now: number): KeyCheck {
  if (presented === undefined || presented === "") return { ok: false, refusal: "key_missing" };
  const match = KEY_PATTERN.exec(presented);
  if (!match) return { ok: false, refusal: "key_invalid" };
  const presentedHash = hashKey(presented);
  // Looked up by hash: a caller chooses the key, not its hash, so the index walk tells
  // them nothing about stored keys. The final comparison is constant-time all the same.
  const record = store.findApiKeyByHash(presentedHash);
  if (
    !record ||
    !timingSafeEqual(Buffer.from(record.key_hash, "hex"), Buffer.from(presentedHash, "hex")) ||
    PREFIX[record.kind] !== `sg_${match[1]}_`
  ) {
    return { ok: false, refusal: "key_invalid" };
  }
  const status = keyStatus(record, now);
  if (status === "revoked") return { ok: false, refusal: "key_revoked", key: record };
  if (status === "expired") return { ok: false, refusal: "key_expired", key: record };
  return { ok: true, key: record };
}

/**
 * Revokes a key by id: effective on the next request that presents it, in every process
 * using this data directory. `changed` is false when it was revoked already.
 */
export function revokeApiKey(
  store: Store,
  id: string,
  now = Date.now(),
): { record: ApiKeyRecord; changed: boolean } {
  if (!store.getApiKey(id)) {
    throw new ConfigError(
      `no key '${id}' in this data directory; \`spendguard keys list\` lists them.`,
    );
  }
  const changed = store.revokeApiKey(id, now);
  const record = store.getApiKey(id);
  if (!record) throw new Error(`key ${id} vanished from the store`);
  return { record, changed };
}

function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}
