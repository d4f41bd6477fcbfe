import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

/**
 * What every console answer shares: security headers on every page (a Content-Security-
 * Policy that allows only this server's own scripts and styles, no framing), bounded form
 * bodies, and redirects after a POST so a reload never repeats an action.
 */

/** Scripts and styles only from this server (no inline script, no CDN), never framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
};

/** A form body larger than this is refused: no console form needs more. */
export const MAX_FORM_BYTES = 64 * 1024;

export type FormRead = { ok: true; form: URLSearchParams } | { ok: false; status: number };

/** Reads an `application/x-www-form-urlencoded` body of at most `maxBytes`. */
export async function readForm(req: IncomingMessage, maxBytes = MAX_FORM_BYTES): Promise<FormRead> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return { ok: false, status: 415 };
  if (Number(req.headers["content-length"] ?? 0) > maxBytes) return { ok: false, status: 413 };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return { ok: false, status: 413 };
    chunks.push(chunk);
  }
  return { ok: true, form: new URLSearchParams(Buffer.concat(chunks).toString("utf8")) };
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string | string[]> = {},
): void {
  res
    .writeHead(status, {
      ...SECURITY_HEADERS,
      ...headers,
      "Content-Type": "text/html; charset=utf-8",
    })
    .end(body);
}

/** 303 See Other: after a POST, the browser GETs `location`. */
export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(303, { ...SECURITY_HEADERS, ...headers, Location: location }).end();
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res
    .writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8" })
    .end(`${text}\n`);
}

/**
 * Whether the browser reached us over TLS: directly, or through a proxy that says so. A
 * forged `X-Forwarded-Proto` can only make cookies stricter (`Secure`), never looser.
 */
export function overTls(req: IncomingMessage): boolean {
  if ((req.socket as Partial<TLSSocket>).encrypted === true) return true;
  const forwarded = req.headers["x-forwarded-proto"];
  return typeof forwarded === "string" && forwarded.split(",")[0]?.trim() === "https";
}

/** The cookies of a request by name (the first of each name wins). */
export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}
