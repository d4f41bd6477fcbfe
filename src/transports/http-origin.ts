import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/**
 * DNS rebinding protection: a web page whose name was pointed at this machine can make a
 * browser send it requests, but they carry the page's name in `Host` and its origin in
 * `Origin`. Only requests naming this server (the address it is bound to, or loopback
 * names when it is bound to loopback, or `--allow-host` names) and coming from no browser
 * page, a loopback page or an `--allow-origin` origin are served.
 */

export interface OriginRules {
  host: string;
  port: number;
  /** Extra `Host` values (`name` or `name:port`), e.g. the name a reverse proxy forwards. */
  allowedHosts: readonly string[];
  /** Extra exact origins (`https://app.example.com`). */
  allowedOrigins: readonly string[];
}

export type OriginCheck =
  | { ok: true }
  | { ok: false; code: "host_not_allowed" | "origin_not_allowed"; message: string };

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function originChecker(rules: OriginRules): (req: IncomingMessage) => OriginCheck {
  const names = isLoopback(rules.host)
    ? [...LOOPBACK_NAMES, hostName(rules.host)]
    : [hostName(rules.host)];
  const hosts = new Set(
    [...names.map((name) => `${name}:${rules.port}`), ...rules.allowedHosts].map((h) =>
      h.toLowerCase(),
    ),
  );
  const origins = new Set(rules.allowedOrigins.map((o) => o.toLowerCase()));
  return (req) => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!hosts.has(host)) {
      return {
        ok: false,
        code: "host_not_allowed",
        message: `Host '${req.headers.host ?? ""}' is not this server (DNS rebinding protection); use one of ${[...hosts].join(", ")} or start the server with --allow-host.`,
      };
    }
    const origin = req.headers.origin;
    if (origin === undefined || LOOPBACK_ORIGIN.test(origin) || origins.has(origin.toLowerCase())) {
      return { ok: true };
    }
    return {
      ok: false,
      code: "origin_not_allowed",
      message: `Origin '${origin}' is not allowed; start the server with --allow-origin ${origin} to allow it.`,
    };
  };
}

/** The bound address as a `Host` header names it: IPv6 in brackets. */
function hostName(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
