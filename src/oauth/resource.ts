/**
 * This server as a protected resource (RFC 9728) and the identifiers tokens are issued
 * for (RFC 8707). Its canonical identifier is its public base URL (`https://host[:port]`,
 * no trailing slash); clients that discover it through an endpoint's metadata
 * (`/.well-known/oauth-protected-resource/mcp`) name that endpoint (`…/mcp`), which is the
 * same resource. A token issued for any other URL is for another resource.
 */

/** The endpoints that are this resource, beside the base URL itself. */
export const RESOURCE_PATHS = ["/mcp", "/sse"] as const;

/** The one scope spendguard grants: what the agent may do is its policy's to say. */
export const SCOPE = "spendguard";

export const PROTECTED_RESOURCE_WELL_KNOWN = "/.well-known/oauth-protected-resource";

/**
 * A resource indicator in canonical form (lower-case scheme and host, no default port, no
 * trailing slash), or undefined when it is not an absolute http(s) URL without a fragment
 * (RFC 8707 §2).
 */
export function canonicalResource(text: string): string | undefined {
  if (text.length > 2048 || text.includes("#")) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.username || url.password || url.search) return undefined;
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path}`;
}

export class ProtectedResource {
  /** The canonical identifier: the public base URL. */
  readonly base: string;
  /** Every identifier a token may be issued for here. */
  readonly identifiers: ReadonlySet<string>;

  constructor(baseUrl: string) {
    const base = canonicalResource(baseUrl);
    if (!base || new URL(base).pathname !== "/") {
      throw new Error(`not a base URL (scheme, host and port only): ${baseUrl}`);
    }
    this.base = base;
    this.identifiers = new Set([base, ...RESOURCE_PATHS.map((path) => `${base}${path}`)]);
  }

  /** The identifier an endpoint's metadata names: `…/mcp` for `/mcp`, the base otherwise. */
  identifierFor(pathname: string): string {
    const endpoint = RESOURCE_PATHS.find((path) => path === pathname);
    return endpoint ? `${this.base}${endpoint}` : this.base;
  }

  /** Where the metadata of an endpoint is (RFC 9728 §3.1: the path after the well-known one). */
  metadataUrl(pathname: string): string {
    const endpoint = RESOURCE_PATHS.find((path) => path === pathname) ?? "";
    return `${this.base}${PROTECTED_RESOURCE_WELL_KNOWN}${endpoint}`;
  }

  /** The canonical form of a requested resource if it is this one; undefined otherwise. */
  accepts(requested: string): string | undefined {
    const canonical = canonicalResource(requested);
    return canonical !== undefined && this.identifiers.has(canonical) ? canonical : undefined;
  }
}
