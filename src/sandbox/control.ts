import type { IncomingMessage, ServerResponse } from "node:http";
import { ZodError } from "zod";
import type { SandboxState } from "./api.js";
import type { FaultRule } from "./faults.js";

/** Where the sandbox's own endpoints live; Stripe has nothing under it. */
export const CONTROL_PREFIX = "/_sandbox/";

const MAX_RULE_BYTES = 64 * 1024;
const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/**
 * The test harness's handle on a running sandbox, over HTTP and without a Stripe key:
 * `POST /_sandbox/faults` (a fault rule as JSON), `DELETE /_sandbox/faults`,
 * `GET /_sandbox/faults`, `GET /_sandbox/requests`. Only clients on this machine may use
 * it, even when the sandbox listens on another interface.
 */
export async function handleControlRequest(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  };
  const path = (req.url ?? "").split("?", 1)[0];
  const route = `${req.method} ${path}`;
  if (!LOOPBACK.has(req.socket.remoteAddress ?? "")) {
    req.resume();
    return reply(404, {
      error: { type: "invalid_request_error", message: `Unrecognized request URL (${route}).` },
    });
  }
  if (route === "GET /_sandbox/requests") {
    return reply(200, { count: state.log.length, requests: state.log });
  }
  if (route === "GET /_sandbox/faults") return reply(200, { faults: state.faults.list() });
  if (route === "DELETE /_sandbox/faults") {
    state.faults.clear();
    return reply(200, { faults: [] });
  }
  if (route === "POST /_sandbox/faults") {
    let rule: unknown;
    try {
      rule = JSON.parse(await readText(req));
    } catch {
      return reply(400, {
        error: { type: "invalid_request_error", message: "The body must be a fault rule as JSON." },
      });
    }
    try {
      state.faults.add(rule as FaultRule);
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      const message = error.issues
        .map((i) => `${i.path.join(".") || "rule"}: ${i.message}`)
        .join("; ");
      return reply(400, {
        error: { type: "invalid_request_error", message: `Invalid fault rule: ${message}` },
      });
    }
    return reply(200, { faults: state.faults.list() });
  }
  req.resume();
  reply(404, {
    error: { type: "invalid_request_error", message: `Unrecognized request URL (${route}).` },
  });
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      // Past the limit the rest is drained, not kept.
      if (text.length <= MAX_RULE_BYTES) text += chunk;
    });
    req.on("end", () =>
      text.length > MAX_RULE_BYTES ? reject(new Error("fault rule too large")) : resolve(text),
    );
    req.on("error", reject);
  });
}
