import type { IncomingHttpHeaders } from "node:http";
import { invalidRequest, StripeHttpError } from "./errors.js";
import { type Grants, type Permission, type PermissionMap, permissionName } from "./permissions.js";

/** A key the sandbox accepts. `sk_test_…` without permissions can do everything. */
export interface SandboxKey {
  key: string;
  permissions?: PermissionMap;
}

export function grantsOf({ key, permissions }: SandboxKey): Grants {
  if (permissions) return permissions;
  return key.startsWith("sk_") ? "all" : {};
}

/** `sk_test_****abcd`: enough to recognise a key in a message, never enough to use it. */
function redactKey(key: string): string {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? "";
  return `${prefix}****${key.slice(-4)}`;
}

/** The key a request carries: `Authorization: Bearer KEY`, or HTTP Basic with the key as user. */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization?.trim();
  if (!header) return undefined;
  const [scheme = "", credentials = ""] = header.split(/\s+/, 2);
  if (scheme.toLowerCase() === "bearer") return credentials || undefined;
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    return decoded.split(":", 1)[0] || undefined;
  }
  return undefined;
}

/** Finds the key's grants or refuses the request with Stripe's 401. */
export function authenticate(headers: IncomingHttpHeaders, keys: ReadonlyMap<string, Grants>) {
  const key = presentedKey(headers);
  if (key === undefined) {
    throw unauthenticated(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  const grants = keys.get(key);
  if (grants === undefined) throw unauthenticated(`Invalid API Key provided: ${redactKey(key)}`);
  return { key, grants };
}

function unauthenticated(message: string): StripeHttpError {
  return new StripeHttpError(401, "invalid_request_error", message, {
    headers: { "WWW-Authenticate": 'Basic realm="Stripe"' },
  });
}

export function permissionDenied(
  key: string,
  account: string,
  needed: Permission,
): StripeHttpError {
  return invalidRequest(
    `The provided key '${redactKey(key)}' does not have the required permissions for this endpoint on account '${account}'. Having the '${permissionName(needed)}' permission would allow this request to continue.`,
    { status: 403 },
  );
}

export function accountDenied(key: string, account: string): StripeHttpError {
  return invalidRequest(
    `The provided key '${redactKey(key)}' does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`,
    { status: 403, code: "account_invalid" },
  );
}
