import type { IncomingMessage, ServerResponse } from "node:http";
import type { KeyRefusal } from "../keys/api-keys.js";

/**
 * What every HTTP refusal looks like: a JSON-RPC error (what MCP clients parse) whose
 * `data.code` is a stable spendguard code, so scripts need not read messages.
 */

export type HttpRefusalCode =
  | "host_not_allowed"
  | "origin_not_allowed"
  | "not_found"
  | "method_not_allowed"
  | KeyRefusal
  | "rate_limited"
  | "body_too_large"
  | "unsupported_media_type"
  | "invalid_json"
  | "missing_session"
  | "session_not_found"
  | "session_key_mismatch"
  | "session_wrong_transport"
  | "batch_not_supported"
  | "invalid_message"
  | "session_limit"
  | "session_open_failed"
  | "store_unavailable"
  | "shutting_down";

/** JSON-RPC codes: -32700 parse error, -32600 invalid request, -32000.. server errors. */
const RPC_CODE: Partial<Record<HttpRefusalCode, number>> = {
  invalid_json: -32700,
  missing_session: -32600,
  batch_not_supported: -32600,
  invalid_message: -32600,
  unsupported_media_type: -32600,
  session_not_found: -32001,
  session_open_failed: -32603,
};

export function refuse(
  res: ServerResponse,
  status: number,
  code: HttpRefusalCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: null,
    error: { code: RPC_CODE[code] ?? -32000, message, data: { code } },
  });
  res.writeHead(status, { ...headers, "Content-Type": "application/json" }).end(body);
}

/** The token of `Authorization: Bearer TOKEN`; undefined for anything else. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1];
}

export type BodyRead =
  | { ok: true; body: unknown }
  | { ok: false; status: number; code: HttpRefusalCode; message: string };

/**
 * Reads and parses a JSON request body of at most `maxBytes`. A larger declared length is
 * refused before reading; a body that turns out larger stops being read at the limit.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    return {
      ok: false,
      status: 415,
      code: "unsupported_media_type",
      message: "Content-Type must be application/json",
    };
  }
  const tooLarge: BodyRead = {
    ok: false,
    status: 413,
    code: "body_too_large",
    message: `Request body larger than ${maxBytes} bytes`,
  };
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > maxBytes) return tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return tooLarge;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (error) {
    return {
      ok: false,
      status: 400,
      code: "invalid_json",
      message: `Parse error: ${error instanceof Error ? error.message : "invalid JSON"}`,
    };
  }
}
