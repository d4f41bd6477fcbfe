import type { IncomingMessage, ServerResponse } from "node:http";
import { ZodError } from "zod";
import type { SandboxState } from "./api.js";
import { ClockMoveError } from "./clock.js";
import type { FaultRule } from "./faults.js";
import { SandboxStateError } from "./state-file.js";

/** Where the sandbox's own endpoints live; Stripe has nothing under it. */
export const CONTROL_PREFIX = "/_sandbox/";

const MAX_BODY_BYTES = 64 * 1024;
const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/**
 * The test harness's handle on a running sandbox, over HTTP and without a Stripe key:
 * `POST /_sandbox/faults` (a fault rule as JSON), `DELETE /_sandbox/faults`,
 * `GET /_sandbox/faults`, `GET /_sandbox/requests`, `GET /_sandbox/clock` and
 * `POST /_sandbox/clock` (`{"advance_ms": N}` or `{"now": ms}`, never backwards). Only
 * clients on this machine may use it, even when the sandbox listens on another interface.
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
    return reply(404, invalid(`Unrecognized request URL (${route}).`));
  }
  if (route === "GET /_sandbox/requests") {
    return reply(200, { count: state.log.length, requests: state.log });
  }
  if (route === "GET /_sandbox/faults") return reply(200, { faults: state.faults.list() });
  if (route === "GET /_sandbox/clock") return reply(200, clockView(state));
  if (route === "POST /_sandbox/clock") {
    let move: unknown;
    try {
      move = JSON.parse(await readText(req));
    } catch {
      return reply(400, invalid(CLOCK_BODY));
    }
    const problem = moveClock(state, move);
    if (problem !== undefined) return reply(400, invalid(problem));
    try {
      state.save();
    } catch (error) {
      if (!(error instanceof SandboxStateError)) throw error;
      return reply(500, { error: { type: "api_error", message: error.message } });
    }
    return reply(200, clockView(state));
  }
  if (route === "DELETE /_sandbox/faults") {
    state.faults.clear();
    return reply(200, { faults: [] });
  }
  if (route === "POST /_sandbox/faults") {
    let rule: unknown;
    try {
      rule = JSON.parse(await readText(req));
    } catch {
      return reply(400, invalid("The body must be a fault rule as JSON."));
    }
    try {
      state.faults.add(rule as FaultRule);
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      const message = error.issues
        .map((i) => `${i.path.join(".") || "rule"}: ${i.message}`)
        .join("; ");
      return reply(400, invalid(`Invalid fault rule: ${message}`));
    }
    return reply(200, { faults: state.faults.list() });
  }
  req.resume();
  reply(404, invalid(`Unrecognized request URL (${route}).`));
}

const CLOCK_BODY =
  'The body must be JSON with one field: {"advance_ms": N} (N > 0) or {"now": ms since the epoch}.';

/** Applies `{"advance_ms": N}` or `{"now": ms}`; returns what is wrong with it, if anything. */
function moveClock(state: SandboxState, move: unknown): string | undefined {
  const fields = move !== null && typeof move === "object" ? Object.entries(move) : [];
  const [field, value] = fields[0] ?? [];
  if (fields.length !== 1 || typeof value !== "number") return CLOCK_BODY;
  try {
    if (field === "advance_ms") state.clock.advance(value);
    else if (field === "now") state.clock.set(value);
    else return CLOCK_BODY;
  } catch (error) {
    if (!(error instanceof ClockMoveError)) throw error;
    return error.message;
  }
  return undefined;
}

function invalid(message: string) {
  return { error: { type: "invalid_request_error", message } };
}

function clockView(state: SandboxState) {
  const now = state.clock.now();
  return { now, iso: new Date(now).toISOString(), offset_ms: state.clock.offsetMs };
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      // Past the limit the rest is drained, not kept.
      if (text.length <= MAX_BODY_BYTES) text += chunk;
    });
    req.on("end", () =>
      text.length > MAX_BODY_BYTES ? reject(new Error("body too large")) : resolve(text),
    );
    req.on("error", reject);
  });
}
