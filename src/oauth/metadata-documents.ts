import { lookup } from "node:dns";
import { request } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { z } from "zod";
import type { OAuthClientRecord, Store } from "../store/store.js";
import { clientOf, displayText, type OAuthClient } from "./clients.js";
import { OAuthError } from "./errors.js";
import { redirectUriProblem } from "./redirect-uris.js";

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, MCP
 * 2025-11-25 §Client ID Metadata Documents): a client whose `client_id` is an HTTPS URL is
 * described by the JSON document at that URL. It is fetched with care, since anyone can
 * make us fetch a URL: HTTPS only, no redirects, 5 s, 64 KiB, and never from a private,
 * loopback or link-local address (SSRF). The document's `client_id` must be its URL
 * exactly; it must name its redirect URIs and be a public client (no shared secret). The
 * copy is kept as the HTTP cache headers allow, bounded to between 1 minute and 1 day.
 */

export interface MetadataDocumentOptions {
  /** Tests only: allow documents on loopback and private addresses. */
  allowPrivateNetwork?: boolean;
  /** Tests only: the CA to trust for those documents. */
  ca?: string;
  timeoutMs?: number;
}

const MAX_BYTES = 64 * 1024;
const MIN_FRESH_MS = 60_000;
const MAX_FRESH_MS = 86_400_000;
const DEFAULT_FRESH_MS = 3_600_000;

const DocumentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().max(500),
  redirect_uris: z.array(z.string().max(2000)).min(1).max(10),
  client_uri: z.string().max(2000).optional(),
  grant_types: z.array(z.string().max(100)).max(10).optional(),
  response_types: z.array(z.string().max(100)).max(10).optional(),
  token_endpoint_auth_method: z.string().max(100).optional(),
  client_secret: z.unknown().optional(),
});

/** Addresses a fetched document may not come from. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  PRIVATE.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 127],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  PRIVATE.addSubnet(net, prefix, "ipv6");

function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, "ipv4");
  return PRIVATE.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

/** Why a `client_id` cannot be a metadata document URL, or undefined when it can. */
export function documentUrlProblem(clientId: string): string | undefined {
  if (clientId.length > 2000) return "is longer than 2000 characters";
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:") return "is not an https URL";
  if (url.pathname === "/" || url.pathname === "") return "has no path";
  if (url.hash || clientId.includes("#")) return "has a fragment";
  if (url.username || url.password) return "carries user information";
  if (/\/\.\.?(\/|$)/.test(clientId)) {
    return "has . or .. path segments";
  }
  if (url.href !== clientId) return "is not in its normal form";
  return undefined;
}

export class MetadataDocuments {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly options: MetadataDocumentOptions = {},
  ) {}

  /** The client a metadata document URL describes; throws `invalid_client` when it cannot. */
  async client(clientId: string): Promise<OAuthClient> {
    const problem = documentUrlProblem(clientId);
    if (problem) {
      throw new OAuthError("invalid_client", `This client_id URL ${problem}.`, 401);
    }
    const cached = await this.store.getOAuthClient(clientId);
    const now = this.now();
    if (cached && cached.registration === "metadata_document" && (cached.fresh_until ?? 0) > now) {
      return clientOf(cached);
    }
    const fetched = await this.fetch(clientId);
    const record = this.recordOf(clientId, fetched.body, now, fetched.freshMs, cached);
    await this.store.saveOAuthClient(record);
    return clientOf(record);
  }

  private recordOf(
    clientId: string,
    body: unknown,
    now: number,
    freshMs: number,
    cached: OAuthClientRecord | undefined,
  ): OAuthClientRecord {
    const refuse = (why: string) =>
      new OAuthError("invalid_client", `The client's metadata document ${why}.`, 401);
    const parsed = DocumentSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw refuse(`is not valid: ${issue?.path.join(".") || "document"}: ${issue?.message}`);
    }
    const doc = parsed.data;
    if (doc.client_id !== clientId) throw refuse("names another client_id than its own URL");
    if (doc.client_secret !== undefined) throw refuse("holds a client_secret, which it must not");
    const method = doc.token_endpoint_auth_method ?? "none";
    if (method !== "none") {
      throw refuse(
        `asks for ${method}; spendguard accepts metadata-document clients as public clients (none) only`,
      );
    }
    for (const uri of doc.redirect_uris) {
      const problem = redirectUriProblem(uri);
      if (problem) throw refuse(`lists a redirect URI that ${problem}`);
    }
    const grants = doc.grant_types ?? ["authorization_code"];
    if (!grants.includes("authorization_code")) {
      throw refuse("does not list the authorization_code grant");
    }
    return {
      id: clientId,
      registration: "metadata_document",
      name: displayText(doc.client_name) || "(unnamed client)",
      redirect_uris: JSON.stringify(doc.redirect_uris),
      grant_types: JSON.stringify(
        grants.filter((g) => g === "authorization_code" || g === "refresh_token"),
      ),
      auth_method: "none",
      secret_hash: null,
      client_uri: doc.client_uri === undefined ? null : displayText(doc.client_uri, 2000),
      registered_by: new URL(clientId).host,
      created_at: cached?.created_at ?? now,
      fresh_until: now + freshMs,
    };
  }

  private fetch(clientId: string): Promise<{ body: unknown; freshMs: number }> {
    const url = new URL(clientId);
    const allowPrivate = this.options.allowPrivateNetwork === true;
    const fail = (why: string) =>
      new OAuthError(
        "invalid_client",
        `The client's metadata document could not be fetched from ${url.host}: ${why}.`,
        401,
      );
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) && !allowPrivate && isPrivateAddress(host)) {
      return Promise.reject(fail("it is a private address"));
    }
    const guarded: LookupFunction = (hostname, options, callback) => {
      lookup(hostname, { ...options, all: false }, (error, address, family) => {
        if (error) return callback(error, "", 0);
        if (!allowPrivate && isPrivateAddress(String(address))) {
          return callback(new Error("it resolves to a private address"), "", 0);
        }
        callback(null, String(address), family);
      });
    };
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: "GET",
          headers: { Accept: "application/json" },
          lookup: guarded,
          timeout: this.options.timeoutMs ?? 5_000,
          ...(this.options.ca ? { ca: this.options.ca } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(fail(`it answered HTTP ${res.statusCode} (redirects are not followed)`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BYTES) {
              req.destroy();
              reject(fail(`it is larger than ${MAX_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            try {
              resolve({
                body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown,
                freshMs: freshness(res.headers["cache-control"]),
              });
            } catch {
              reject(fail("it is not JSON"));
            }
          });
          res.on("error", () => reject(fail("the connection broke")));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (error) => reject(fail(error.message.replace(/[^\x20-\x7e]/g, "?"))));
      req.end();
    });
  }
}

/** How long a fetched document stays fresh, from its Cache-Control. */
function freshness(cacheControl: string | undefined): number {
  if (!cacheControl) return DEFAULT_FRESH_MS;
  if (/\b(no-store|no-cache)\b/i.test(cacheControl)) return MIN_FRESH_MS;
  const maxAge = /\bmax-age=(\d+)/i.exec(cacheControl)?.[1];
  if (maxAge === undefined) return DEFAULT_FRESH_MS;
  return Math.min(MAX_FRESH_MS, Math.max(MIN_FRESH_MS, Number(maxAge) * 1000));
}
