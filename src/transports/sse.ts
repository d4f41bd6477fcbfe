import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  type Transport,
} from "@modelcontextprotocol/server";
import { refuse } from "./http-request.js";

/**
 * The HTTP+SSE transport of protocol revision 2024-11-05, for clients that predate
 * Streamable HTTP: `GET /sse` opens the event stream, whose first event names where to
 * POST (`/messages?sessionId=…`); every answer goes down the stream. The v2 SDK serves no
 * SSE, so this is the little of it spendguard needs, behind the same checks as `/mcp`
 * (key, origin, rate, body size: `http.ts` reads and parses the body first).
 */
export class SseServerTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: Transport["onmessage"];
  private closed = false;

  constructor(
    private readonly endpoint: string,
    private readonly res: ServerResponse,
  ) {}

  async start(): Promise<void> {
    this.res.writeHead(200, {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache, no-transform",
      Connection: "keep-alive",
    });
    this.res.write(`event: endpoint\ndata: ${this.endpoint}?sessionId=${this.sessionId}\n\n`);
    this.res.on("close", () => this.ended());
  }

  /** One POSTed message, already read and parsed as JSON. */
  async handlePostMessage(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(body);
    } catch {
      refuse(res, 400, "invalid_message", "Not a JSON-RPC message (one message per POST).");
      return;
    }
    res.writeHead(202).end("Accepted");
    this.onmessage?.(message, { request: webRequestOf(req) });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new Error("the SSE stream is closed");
    this.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    this.res.end();
    this.ended();
  }

  private ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/** The request's method, URL and headers as a web `Request` (what handlers read as `ctx.http.req`). */
function webRequestOf(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
  }
  return new Request(new URL(req.url ?? "/", "http://spendguard.invalid"), {
    method: req.method ?? "POST",
    headers,
  });
}
