import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { hashSecret, newSecret, sameHash } from "../keys/secrets.js";
import type { OAuthClientRecord, Store, TokenEndpointAuthMethod } from "../store/store.js";
import { OAuthError } from "./errors.js";
import { CLIENT_AUTH_METHODS } from "./metadata.js";
import type { MetadataDocuments } from "./metadata-documents.js";
import { redirectUriProblem } from "./redirect-uris.js";

/**
 * OAuth clients: registered by RFC 7591 (rate-limited), known by a Client ID Metadata
 * Document (their `client_id` is the document's HTTPS URL), or made by the operator for
 * `client_credentials`. And how a client proves itself at the token and revocation
 * endpoints (RFC 6749 §2.3: HTTP Basic or the form body, never both).
 */

/** A client as the protocol code uses it: the stored record with its lists parsed. */
export interface OAuthClient {
  record: OAuthClientRecord;
  redirectUris: readonly string[];
  grantTypes: readonly string[];
}

export function clientOf(record: OAuthClientRecord): OAuthClient {
  return {
    record,
    redirectUris: JSON.parse(record.redirect_uris) as string[],
    grantTypes: JSON.parse(record.grant_types) as string[],
  };
}

/** Client names and URIs are shown to people: bounded, printable, one line. */
export function displayText(text: string, max = 100): string {
  const clean = text
    .normalize("NFC")
    .replace(/[\p{C}\p{Zl}\p{Zp}]+/gu, " ")
    .trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

const text = (max: number) => z.string().max(max);

/** RFC 7591 §2: the metadata we read. Unknown fields are ignored, as §2 requires. */
export const ClientMetadataSchema = z.object({
  redirect_uris: z.array(text(2000)).min(1).max(10),
  token_endpoint_auth_method: z.string().max(100).optional(),
  grant_types: z.array(text(100)).max(10).optional(),
  response_types: z.array(text(100)).max(10).optional(),
  client_name: text(500).optional(),
  client_uri: text(2000).optional(),
  scope: text(1000).optional(),
});

export type ClientMetadata = z.infer<typeof ClientMetadataSchema>;

const REGISTERABLE_GRANTS = new Set(["authorization_code", "refresh_token"]);

/** Checks registration metadata (RFC 7591 §2, with the MCP spec's redirect URI rules). */
export function checkClientMetadata(input: unknown): {
  metadata: ClientMetadata;
  authMethod: TokenEndpointAuthMethod;
  grantTypes: string[];
} {
  const parsed = ClientMetadataSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".") || "the body";
    throw new OAuthError(
      "invalid_client_metadata",
      issue?.path[0] === "redirect_uris" && issue.code === "too_small"
        ? "redirect_uris must list at least one redirect URI."
        : `${field}: ${issue?.message ?? "invalid"} (RFC 7591 client metadata is a JSON object).`,
    );
  }
  const metadata = parsed.data;
  for (const uri of metadata.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) {
      throw new OAuthError(
        "invalid_redirect_uri",
        `A redirect URI ${problem}: use https, or http on 127.0.0.1, [::1] or localhost.`,
      );
    }
  }
  // RFC 7591 §2: client_secret_basic when none is named.
  const method = metadata.token_endpoint_auth_method ?? "client_secret_basic";
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw new OAuthError(
      "invalid_client_metadata",
      `token_endpoint_auth_method must be one of ${CLIENT_AUTH_METHODS.join(", ")}.`,
    );
  }
  const grantTypes = metadata.grant_types ?? ["authorization_code"];
  if (grantTypes.includes("client_credentials")) {
    throw new OAuthError(
      "invalid_client_metadata",
      "client_credentials clients are made by the operator (spendguard keys create --agent NAME --policy FILE --oauth-client), not registered.",
    );
  }
  const unknown = grantTypes.find((grant) => !REGISTERABLE_GRANTS.has(grant));
  if (unknown !== undefined || !grantTypes.includes("authorization_code")) {
    throw new OAuthError(
      "invalid_client_metadata",
      "grant_types may hold authorization_code and refresh_token only, and must hold authorization_code.",
    );
  }
  if (metadata.response_types?.some((type) => type !== "code")) {
    throw new OAuthError("invalid_client_metadata", "response_types may only hold code.");
  }
  return { metadata, authMethod: method as TokenEndpointAuthMethod, grantTypes };
}

export interface RegistrationLimits {
  /** Registrations per hour from one address. */
  perAddressPerHour: number;
  /** Registrations per hour in all. */
  perHour: number;
}

export const DEFAULT_REGISTRATION_LIMITS: RegistrationLimits = {
  perAddressPerHour: 20,
  perHour: 200,
};

/** RFC 7591 §3: registers a client, rate-limited per address and in all. */
export async function registerClient(
  store: Store,
  body: unknown,
  from: string,
  now: number,
  limits: RegistrationLimits,
): Promise<{ client: OAuthClientRecord; secret: string | undefined; metadata: ClientMetadata }> {
  const since = now - 3_600_000;
  const fromHere = await store.countOAuthClients({
    registration: "dynamic",
    since,
    registeredBy: from,
  });
  const all = await store.countOAuthClients({ registration: "dynamic", since });
  if (fromHere >= limits.perAddressPerHour || all >= limits.perHour) {
    throw new OAuthError(
      "temporarily_unavailable",
      fromHere >= limits.perAddressPerHour
        ? `Too many client registrations from this address (${limits.perAddressPerHour} per hour); try again later, or reuse the client you registered.`
        : `Too many client registrations on this server (${limits.perHour} per hour); try again later.`,
      429,
      { "Retry-After": "600" },
    );
  }
  const { metadata, authMethod, grantTypes } = checkClientMetadata(body);
  const secret = authMethod === "none" ? undefined : newSecret("clientSecret");
  const client: OAuthClientRecord = {
    id: `sgc_${randomBytes(12).toString("hex")}`,
    registration: "dynamic",
    name: displayText(metadata.client_name ?? "") || "(unnamed client)",
    redirect_uris: JSON.stringify(metadata.redirect_uris),
    grant_types: JSON.stringify(grantTypes),
    auth_method: authMethod,
    secret_hash: secret === undefined ? null : hashSecret(secret),
    client_uri: metadata.client_uri === undefined ? null : displayText(metadata.client_uri, 2000),
    registered_by: from,
    created_at: now,
    fresh_until: null,
  };
  await store.saveOAuthClient(client);
  return { client, secret, metadata };
}

/** RFC 7591 §3.2.1: what a registration answers (the secret, this once). */
export function registrationResponse(
  registered: Awaited<ReturnType<typeof registerClient>>,
): Record<string, unknown> {
  const { client, secret, metadata } = registered;
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.created_at / 1000),
    ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
    client_name: client.name,
    redirect_uris: metadata.redirect_uris,
    grant_types: JSON.parse(client.grant_types) as string[],
    response_types: ["code"],
    token_endpoint_auth_method: client.auth_method,
    ...(client.client_uri === null ? {} : { client_uri: client.client_uri }),
  };
}

/** A client by its `client_id`: from the store, or by fetching its metadata document. */
export async function findClient(
  store: Store,
  clientId: string,
  documents: MetadataDocuments,
): Promise<OAuthClient | undefined> {
  if (clientId.startsWith("https://")) return documents.client(clientId);
  const record = clientId.length <= 200 ? await store.getOAuthClient(clientId) : undefined;
  return record && clientOf(record);
}

/** Who a token or revocation request says it is, before it is believed. */
interface PresentedClient {
  clientId: string;
  secret: string | undefined;
  /** HTTP Basic: refusals then carry a `Basic` challenge (RFC 6749 §5.2). */
  basic: boolean;
}

/** RFC 6749 §2.3.1: the client's id and secret from HTTP Basic or the form body. */
function presentedClient(req: IncomingMessage, form: URLSearchParams): PresentedClient {
  const header = req.headers.authorization;
  const inBody = form.has("client_secret");
  if (header !== undefined && /^basic\s/i.test(header)) {
    if (inBody) {
      throw new OAuthError(
        "invalid_request",
        "The client authenticated twice (HTTP Basic and client_secret in the body); use one.",
      );
    }
    const decoded = Buffer.from(header.replace(/^basic\s+/i, ""), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw badClient(true, "The HTTP Basic credentials are malformed.");
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replace(/\+/g, " "));
      } catch {
        throw badClient(true, "The HTTP Basic credentials are malformed.");
      }
    };
    const clientId = decode(decoded.slice(0, colon));
    const bodyId = form.get("client_id");
    if (bodyId !== null && bodyId !== clientId) {
      throw new OAuthError("invalid_request", "client_id differs from the HTTP Basic client.");
    }
    return { clientId, secret: decode(decoded.slice(colon + 1)), basic: true };
  }
  const clientId = form.get("client_id");
  if (!clientId) {
    throw new OAuthError(
      "invalid_client",
      "No client: send client_id (and the client secret, for a confidential client).",
      401,
    );
  }
  return { clientId, secret: form.get("client_secret") ?? undefined, basic: false };
}

function badClient(basic: boolean, description: string): OAuthError {
  return new OAuthError(
    "invalid_client",
    description,
    401,
    basic ? { "WWW-Authenticate": 'Basic realm="spendguard"' } : {},
  );
}

/** The client a token or revocation request comes from, once it has proven who it is. */
export async function authenticateClient(
  req: IncomingMessage,
  form: URLSearchParams,
  store: Store,
  documents: MetadataDocuments,
): Promise<OAuthClient> {
  const presented = presentedClient(req, form);
  const client = await findClient(store, presented.clientId, documents);
  if (!client) {
    throw badClient(
      presented.basic,
      "Unknown client_id: register the client first (or check the client id you were given).",
    );
  }
  const { record } = client;
  if (record.secret_hash === null) {
    if (presented.secret !== undefined) {
      throw badClient(presented.basic, "This is a public client: it has no secret to send.");
    }
    return client;
  }
  if (presented.secret === undefined) {
    throw badClient(presented.basic, "This client must authenticate with its client secret.");
  }
  if (!sameHash(record.secret_hash, hashSecret(presented.secret))) {
    throw badClient(presented.basic, "The client secret is wrong.");
  }
  return client;
}
