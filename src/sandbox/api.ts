import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { accountDenied, authenticate, permissionDenied } from "./auth.js";
import type { SandboxClock } from "./clock.js";
import { errorEnvelope, invalidRequest, StripeHttpError, unrecognizedUrl } from "./errors.js";
import { applyExpansions, checkExpansions } from "./expand.js";
import { type FaultList, type FaultRule, faultError } from "./faults.js";
import { MalformedFormError, parseForm } from "./form.js";
import type { Claim, IdempotencyLedger, RecordedResponse } from "./idempotency.js";
import { requestId as newRequestId, randomId } from "./ids.js";
import type { JsonObject } from "./json.js";
import { renderById } from "./objects.js";
import { Params } from "./params.js";
import { allows, type Grants } from "./permissions.js";
import { matchRoute } from "./route.js";
import { ROUTES } from "./routes.js";
import { SandboxStateError } from "./state-file.js";
import type { Store } from "./store.js";

/** Bodies above this are refused (Stripe's own limit is in the same range). */
const MAX_BODY_BYTES = 1024 * 1024;

/** The API version answered when a request names none: the one the pinned stripe SDK sends. */
const DEFAULT_API_VERSION = "2026-10-28.endive";

/** One request as the sandbox saw it. `status` is 0 when no HTTP answer was sent (reset, hang). */
export interface SandboxRequest {
  method: string;
  path: string;
  status: number;
  /** Clock time (ms) at arrival. */
  at: number;
  idempotencyKey?: string;
  account?: string;
}

/** Everything one sandbox instance holds. */
export interface SandboxState {
  store: Store;
  keys: ReadonlyMap<string, Grants>;
  ledger: IdempotencyLedger;
  faults: FaultList;
  log: SandboxRequest[];
  clock: SandboxClock;
  /** Writes the state to its file, if it has one; called after every change. */
  save: () => void;
  /** Saves again if the last save failed (and throws while it still fails). */
  catchUp: () => void;
  /** Aborted when the sandbox closes, so no injected delay outlives it. */
  shutdown: AbortSignal;
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * Answers one request of Stripe's API the way Stripe does: key, account, route,
 * permission, parameters, idempotency, then the operation, with injected faults
 * before (nothing applied) or after (applied, answer lost) it.
 */
export async function handleApiRequest(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? "GET";
  const url = req.url ?? "/";
  const queryStart = url.indexOf("?");
  const path = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? "" : url.slice(queryStart + 1);
  const idempotencyKey = header(req, "idempotency-key");
  const account = header(req, "stripe-account");
  const entry: SandboxRequest = {
    method,
    path,
    status: 0,
    at: state.clock.now(),
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...(account !== undefined ? { account } : {}),
  };
  state.log.push(entry);
  const requestId = newRequestId();
  const common: Record<string, string> = {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache, no-store",
    "Request-Id": requestId,
    "Stripe-Version": header(req, "stripe-version") ?? DEFAULT_API_VERSION,
    ...(account !== undefined ? { "Stripe-Account": account } : {}),
    ...(idempotencyKey !== undefined && method === "POST"
      ? { "Idempotency-Key": idempotencyKey }
      : {}),
  };
  const send = (reply: Reply) => {
    entry.status = reply.status;
    res.writeHead(reply.status, { ...common, ...reply.headers });
    res.end(reply.body);
  };
  const errorReply = (error: StripeHttpError): Reply => ({
    status: error.status,
    body: pretty(errorEnvelope(error, requestId, state.clock.seconds())),
    headers: error.detail.headers ?? {},
  });

  const fault = state.faults.take(method, path);
  const before = fault && !fault.afterApply ? fault : undefined;
  const after = fault?.afterApply ? fault : undefined;
  if (before && before.kind !== "latency") {
    // The request never reaches the API: nothing is read, applied or remembered.
    req.resume();
    if (before.kind === "status") send(errorReply(faultError(before)));
    if (before.kind === "reset") req.socket.resetAndDestroy();
    return;
  }
  let delayed = false;
  const delay = async () => {
    if (before?.latencyMs === undefined || delayed) return;
    delayed = true;
    await sleep(before.latencyMs, undefined, { signal: state.shutdown });
  };

  let reply: Reply;
  try {
    const body = await readBody(req);
    reply = await answer({
      state,
      req,
      method,
      path,
      query,
      body,
      requestId,
      delay,
      idempotencyKey,
      account,
    });
  } catch (error) {
    if (state.shutdown.aborted || req.socket.destroyed) return;
    reply = errorReply(
      error instanceof StripeHttpError
        ? error
        : new StripeHttpError(500, "api_error", "An unknown error occurred"),
    );
    if (error instanceof SandboxStateError) console.error(`spendguard sandbox: ${error.message}`);
    else if (!(error instanceof StripeHttpError))
      console.error("spendguard sandbox: internal error", error);
  }
  try {
    await delay();
    if (after) await failAfterApply(after, reply, send, errorReply, req, state.shutdown);
    else send(reply);
  } catch {
    // Aborted by close(): the socket is being destroyed, there is no one to answer.
  }
}

/** The write is done (and remembered for its idempotency key); only the answer is lost or late. */
async function failAfterApply(
  fault: FaultRule,
  reply: Reply,
  send: (reply: Reply) => void,
  errorReply: (error: StripeHttpError) => Reply,
  req: IncomingMessage,
  shutdown: AbortSignal,
): Promise<void> {
  if (fault.kind === "status") send(errorReply(faultError(fault)));
  if (fault.kind === "reset") req.socket.resetAndDestroy();
  if (fault.kind === "latency") {
    await sleep(fault.latencyMs ?? 0, undefined, { signal: shutdown });
    send(reply);
  }
  // `hang`: the answer is never sent; close() ends the connection.
}

interface Incoming {
  state: SandboxState;
  req: IncomingMessage;
  method: string;
  path: string;
  query: string;
  body: Body;
  requestId: string;
  delay: () => Promise<void>;
  idempotencyKey: string | undefined;
  account: string | undefined;
}

async function answer(incoming: Incoming): Promise<Reply> {
  const { state, req, method, path, requestId } = incoming;
  const { store } = state;
  state.catchUp();
  const { key, grants } = authenticate(req.headers, state.keys);
  const account = incoming.account ?? store.platformAccount;
  if (!store.accounts.has(account)) throw accountDenied(key, account);
  const match = matchRoute(ROUTES, method, path);
  if (!match) throw unrecognizedUrl(method, path);
  const { route, id } = match;
  if (!allows(grants, route.permission)) throw permissionDenied(key, account, route.permission);

  const params = Params.read(readForm(method, req, incoming.query, incoming.body), route.params);
  const expand = params.list("expand");
  checkExpansions(expand, route.returns, (resource) => {
    const needed = { resource, access: "read" as const };
    if (!allows(grants, needed)) throw permissionDenied(key, account, needed);
  });

  // Stripe's idempotency covers POST only; on GET and DELETE a key has no effect.
  const claim: Claim | undefined =
    method === "POST" && incoming.idempotencyKey !== undefined
      ? state.ledger.claim(
          account,
          incoming.idempotencyKey,
          `${method} ${path}`,
          params.fingerprint(),
        )
      : undefined;
  if (claim?.kind === "replay") return replay(claim.response);

  let run: () => JsonObject;
  try {
    await incoming.delay();
    run = route.validate({
      store,
      account,
      now: state.clock.seconds(),
      newId: randomId,
      id,
      params,
    });
  } catch (error) {
    claim?.release();
    throw error;
  }
  let recorded: RecordedResponse;
  try {
    const body = applyExpansions(run(), expand, (type, ref) =>
      renderById(store, account, type, ref),
    );
    recorded = { status: 200, body: pretty(body), requestId };
  } catch (error) {
    if (!(error instanceof StripeHttpError)) {
      claim?.release();
      throw error;
    }
    recorded = {
      status: error.status,
      body: pretty(errorEnvelope(error, requestId, state.clock.seconds())),
      requestId,
    };
  }
  claim?.record(recorded);
  // Saved before the answer leaves: what a client is told happened survives a restart.
  if (method !== "GET") state.save();
  return {
    status: recorded.status,
    body: recorded.body,
    headers: method === "POST" ? { "Original-Request": requestId } : {},
  };
}

/** Stripe's replay: the first answer's status and body, under this request's own id. */
function replay(response: RecordedResponse): Reply {
  return {
    status: response.status,
    body: response.body,
    headers: { "Idempotent-Replayed": "true", "Original-Request": response.requestId },
  };
}

type Body = { text: string } | { tooLarge: true };

/** Reads the whole body, keeping at most MAX_BODY_BYTES (the rest is drained, not kept). */
function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () =>
      resolve(
        size > MAX_BODY_BYTES
          ? { tooLarge: true }
          : { text: Buffer.concat(chunks).toString("utf8") },
      ),
    );
    req.on("error", reject);
  });
}

/** The request's parameters: the form body of a POST, the query string otherwise. */
function readForm(method: string, req: IncomingMessage, query: string, body: Body) {
  if ("tooLarge" in body) {
    throw invalidRequest(
      `Request body too large: this API accepts at most ${MAX_BODY_BYTES} bytes.`,
    );
  }
  let text = query;
  if (method === "POST") {
    const type = req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    if (body.text !== "" && type !== undefined && type !== "application/x-www-form-urlencoded") {
      throw invalidRequest(
        "Invalid request (check that your POST content type is application/x-www-form-urlencoded). If you have any questions, we can help at https://support.stripe.com/.",
      );
    }
    text = body.text;
  }
  try {
    return parseForm(text);
  } catch (error) {
    if (!(error instanceof MalformedFormError)) throw error;
    throw invalidRequest(`Invalid request: the parameters could not be read (${error.message}).`);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Stripe pretty-prints its JSON with two spaces. */
function pretty(body: JsonObject): string {
  return `${JSON.stringify(body, null, 2)}\n`;
}
