import { createHash, randomBytes } from "node:crypto";

/**
 * An OAuth client and an operator's browser, by hand (fetch, cookies kept per origin): what
 * the protocol tests drive. The browser tests (interop/oauth-browser.test.ts) drive real
 * clients and Chromium instead.
 */

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export async function json(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, { redirect: "manual", ...init });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

export function form(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return json(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

export async function register(base: string, metadata: Record<string, unknown>) {
  return json(`${base}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(metadata),
  });
}

/** A browser with a cookie jar, enough for the sign-in and consent forms. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  async get(
    url: string,
  ): Promise<{ status: number; location: string | null; html: string; headers: Headers }> {
    const response = await fetch(url, { redirect: "manual", headers: this.headers(url) });
    this.keep(response);
    return {
      status: response.status,
      location: response.headers.get("location"),
      html: await response.text(),
      headers: response.headers,
    };
  }

  async post(
    url: string,
    fields: Record<string, string>,
  ): Promise<{ status: number; location: string | null; html: string; headers: Headers }> {
    const response = await fetch(url, {
      method: "POST",
      redirect: "manual",
      headers: {
        ...this.headers(url),
        "Content-Type": "application/x-www-form-urlencoded",
        Origin: new URL(url).origin,
      },
      body: new URLSearchParams(fields).toString(),
    });
    this.keep(response);
    return {
      status: response.status,
      location: response.headers.get("location"),
      html: await response.text(),
      headers: response.headers,
    };
  }

  /** Signs in with `key` on the sign-in page `/authorize` sent us to; returns where it leads. */
  async signIn(base: string, signInLocation: string, key: string) {
    const page = await this.get(new URL(signInLocation, base).href);
    const token = /name="form_token" value="([^"]+)"/.exec(page.html)?.[1] ?? "";
    const next = /name="next" value="([^"]+)"/.exec(page.html)?.[1] ?? "";
    return this.post(`${base}/console/sign-in`, {
      form_token: token,
      next: next.replaceAll("&amp;", "&"),
      key,
    });
  }

  private headers(url: string): Record<string, string> {
    const cookie = [...this.cookies.entries()].map(([k, v]) => `${k}=${v}`).join("; ");
    return cookie && new URL(url).hostname === "127.0.0.1" ? { Cookie: cookie } : {};
  }

  private keep(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (!pair || eq < 0) continue;
      const value = pair.slice(eq + 1);
      if (value === "" || /Max-Age=0/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
  }
}

/** The hidden fields and CSRF token of a consent page, to post it back. */
export function consentFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [, name, value] of html.matchAll(
    /<input type="hidden" name="([^"]+)" value="([^"]*)">/g,
  )) {
    if (name) fields[name] = (value ?? "").replaceAll("&amp;", "&").replaceAll("&quot;", '"');
  }
  return fields;
}
