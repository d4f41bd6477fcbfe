import type Database from "better-sqlite3";
import type {
  ApiKeyRecord,
  CodeRedemption,
  OAuthClientRecord,
  OAuthClientRegistration,
  OAuthCodeRecord,
  OAuthTokenRecord,
} from "../store.js";
import { withBusyRetry } from "./busy.js";
import type { KeyStatements } from "./keys.js";

/** The `oauth_*` statements, prepared once (see `SqliteStore`). */
export function prepareOAuthStatements(db: Database.Database, keys: KeyStatements) {
  const saveClient = db.prepare(`
    INSERT OR REPLACE INTO oauth_clients (id, registration, name, redirect_uris, grant_types,
      auth_method, secret_hash, client_uri, registered_by, created_at, fresh_until)
    VALUES (@id, @registration, @name, @redirect_uris, @grant_types, @auth_method,
      @secret_hash, @client_uri, @registered_by, @created_at, @fresh_until)`);
  const clientById = db.prepare(`SELECT * FROM oauth_clients WHERE id = ?`);
  const allClients = db.prepare(`SELECT * FROM oauth_clients ORDER BY created_at, id`);
  const countClients = db.prepare(`
    SELECT COUNT(*) AS n FROM oauth_clients
    WHERE registration = @registration AND created_at >= @since
      AND (@registeredBy IS NULL OR registered_by = @registeredBy)`);
  const insertCode = db.prepare(`
    INSERT INTO oauth_codes (code_hash, client_id, grant_id, redirect_uri, code_challenge,
      resource, scope, created_at, expires_at, used_at)
    VALUES (@code_hash, @client_id, @grant_id, @redirect_uri, @code_challenge, @resource,
      @scope, @created_at, @expires_at, @used_at)`);
  const codeByHash = db.prepare(`SELECT * FROM oauth_codes WHERE code_hash = ?`);
  const useCode = db.prepare(
    `UPDATE oauth_codes SET used_at = @at WHERE code_hash = @hash AND used_at IS NULL`,
  );
  const insertToken = db.prepare(`
    INSERT INTO oauth_tokens (token_hash, kind, grant_id, client_id, resource, scope,
      created_at, expires_at, rotated_at, revoked_at)
    VALUES (@token_hash, @kind, @grant_id, @client_id, @resource, @scope, @created_at,
      @expires_at, @rotated_at, @revoked_at)`);
  const tokenByHash = db.prepare(`SELECT * FROM oauth_tokens WHERE token_hash = ?`);
  const rotate = db.prepare(`
    UPDATE oauth_tokens SET rotated_at = @at
    WHERE token_hash = @hash AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL`);
  const revokeToken = db.prepare(
    `UPDATE oauth_tokens SET revoked_at = @at WHERE token_hash = @hash AND revoked_at IS NULL`,
  );
  const deleteCodes = db.prepare(`DELETE FROM oauth_codes WHERE expires_at < ?`);
  const deleteTokens = db.prepare(`DELETE FROM oauth_tokens WHERE expires_at < ?`);

  const insertTokens = (tokens: readonly OAuthTokenRecord[]) => {
    for (const token of tokens) insertToken.run(token);
  };
  const createIdentityTxn = db.transaction(
    (identity: ApiKeyRecord, client: OAuthClientRecord | undefined) => {
      if (client) saveClient.run(client);
      keys.insert(identity);
    },
  );
  const redeemTxn = db.transaction((hash: string, at: number): CodeRedemption | undefined => {
    const code = codeByHash.get(hash) as OAuthCodeRecord | undefined;
    if (!code) return undefined;
    return { code, firstUse: useCode.run({ hash, at }).changes > 0 };
  });
  const rotateTxn = db.transaction(
    (hash: string, at: number, next: readonly OAuthTokenRecord[]): boolean => {
      if (rotate.run({ hash, at }).changes === 0) return false;
      insertTokens(next);
      return true;
    },
  );
  const insertTokensTxn = db.transaction(insertTokens);
  const deleteExpiredTxn = db.transaction((before: number) => {
    deleteCodes.run(before);
    deleteTokens.run(before);
  });

  return {
    saveClient(client: OAuthClientRecord): void {
      withBusyRetry(() => saveClient.run(client));
    },
    getClient(id: string): OAuthClientRecord | undefined {
      return clientById.get(id) as OAuthClientRecord | undefined;
    },
    listClients(): OAuthClientRecord[] {
      return allClients.all() as OAuthClientRecord[];
    },
    countClients(filter: {
      registration: OAuthClientRegistration;
      since: number;
      registeredBy?: string;
    }): number {
      const row = countClients.get({ ...filter, registeredBy: filter.registeredBy ?? null }) as {
        n: number;
      };
      return row.n;
    },
    createIdentity(identity: ApiKeyRecord, client?: OAuthClientRecord): void {
      withBusyRetry(() => createIdentityTxn.immediate(identity, client));
    },
    createCode(code: OAuthCodeRecord): void {
      withBusyRetry(() => insertCode.run(code));
    },
    redeemCode(hash: string, at: number): CodeRedemption | undefined {
      return withBusyRetry(() => redeemTxn.immediate(hash, at));
    },
    createTokens(tokens: readonly OAuthTokenRecord[]): void {
      withBusyRetry(() => insertTokensTxn.immediate(tokens));
    },
    findToken(hash: string): OAuthTokenRecord | undefined {
      return tokenByHash.get(hash) as OAuthTokenRecord | undefined;
    },
    rotateRefreshToken(hash: string, at: number, next: readonly OAuthTokenRecord[]): boolean {
      return withBusyRetry(() => rotateTxn.immediate(hash, at, next));
    },
    revokeToken(hash: string, at: number): boolean {
      return withBusyRetry(() => revokeToken.run({ hash, at }).changes > 0);
    },
    deleteExpired(before: number): void {
      withBusyRetry(() => deleteExpiredTxn.immediate(before));
    },
  };
}

export type OAuthStatements = ReturnType<typeof prepareOAuthStatements>;
