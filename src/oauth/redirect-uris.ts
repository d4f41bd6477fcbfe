/**
 * Which redirect URIs a client may register, and when a requested one is a registered one.
 * MCP: every redirect URI is HTTPS or loopback. Matching is exact (string equality), except
 * that a loopback redirect URI may name any port at request time (RFC 8252 §7.3): native
 * clients listen on whatever port is free.
 */

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Why a URI cannot be a redirect URI, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > 2000) return "is longer than 2000 characters";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URL";
  }
  if (uri.includes("#")) return "has a fragment";
  if (url.username || url.password) return "carries user information";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return "is neither https nor http on a loopback address (127.0.0.1, [::1], localhost)";
}

export function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  } catch {
    return false;
  }
}

/** The registered URI `requested` matches, if any. */
export function matchRedirectUri(
  registered: readonly string[],
  requested: string,
): string | undefined {
  if (registered.includes(requested)) return requested;
  if (!isLoopbackRedirect(requested)) return undefined;
  const asked = new URL(requested);
  return registered.find((candidate) => {
    if (!isLoopbackRedirect(candidate)) return false;
    const known = new URL(candidate);
    return (
      known.hostname === asked.hostname &&
      known.pathname === asked.pathname &&
      known.search === asked.search
    );
  });
}

/** The host a redirect goes to, as the consent page shows it. */
export function redirectHost(uri: string): string {
  return new URL(uri).host;
}
