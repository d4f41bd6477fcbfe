import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  type JSONRPCRequest,
  PROTOCOL_VERSION_META_KEY,
  type Result,
  Server,
  type ServerContext,
  type Tool,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import type { AnyTool, ToolAnnotations } from "../tools/tool.js";
import type { AskHuman } from "./approvals/gate.js";
import { canonicalJson } from "./audit/canonical.js";
import { askThroughClient, canAskHuman, inBandApproval } from "./elicitation.js";
import type { CallOutcome, Guard } from "./guard/guard.js";
import { argumentsDigest, type RequestStateSealer } from "./request-state.js";
import { VERSION } from "./version.js";

const INSTRUCTIONS =
  "spendguard gives you a few Stripe tools under an operator's policy. Money amounts are integers in the currency's smallest unit (cents for usd, whole yen for jpy). Every call is checked against spending caps, the customers you may serve and parameter rules; a refusal is a tool error with a `code`, a `message` saying why and a `hint` saying what you can still do. Call `session_status` to see what is left. Repeating the exact same write returns its first result instead of doing it twice.";

/** The guard session a server serves, and the agent key that opened it (none on stdio). */
export interface GuardSession {
  guard: Guard;
  sessionId: string;
  keyId: string | null;
}

export interface ServerOptions {
  /**
   * The guard session, asked for by tools/list and tools/call only, so a request that
   * needs none (`server/discover`, `ping`) opens none. A 2025-era server has one for its
   * whole connection; on 2026-07-28 each request's server asks for its key's session.
   */
  session(): Promise<GuardSession>;
  /** Seals the `requestState` of in-band approvals on 2026-07-28. */
  sealer: RequestStateSealer;
}

/**
 * Builds the MCP server for one guard session. It never knows which wire it is on: the
 * transports in `src/transports/` connect it. Every tool call goes through the guard,
 * which audits it, so malformed calls and unknown tools are answered (and recorded) here
 * rather than rejected by the SDK.
 */
export function createServer(options: ServerOptions): Server {
  const server = new RawToolCallServer(
    { name: "spendguard", title: "spendguard", version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );

  // A session's tools never change (policy and read-only are fixed when it opens), so the
  // zod → JSON Schema conversion runs on the first tools/list only.
  let listing: Tool[] | undefined;
  server.setRequestHandler("tools/list", async () => {
    const { guard } = await options.session();
    listing ??= guard.listTools().map((tool) => describeTool(guard, tool));
    return { tools: listing };
  });

  server.setRequestHandler(
    "tools/call",
    { params: RawCallToolParams },
    async (params, ctx): Promise<CallToolResult | InputRequiredResult> => {
      const session = await options.session();
      const name = toolNameOf(params.name);
      if (envelopeOf(ctx)[PROTOCOL_VERSION_META_KEY] === undefined) {
        // Calls that need a person's approval ask the user in-band when the client can, and
        // when this session's client may say yes at all (never, by default, over HTTP).
        const askHuman: AskHuman | undefined =
          session.guard.clientMayApprove && canAskHuman(server.getClientCapabilities())
            ? askThroughClient(ctx)
            : undefined;
        return resultOf(await session.guard.call(name, params.arguments, { askHuman }));
      }
      return callModern(session, name, params.arguments, ctx, options.sealer);
    },
  );

  return server;
}

/**
 * A Server whose tools/call handler gets the request as sent. The SDK checks every
 * tools/call against its own schema first, which would refuse `arguments` that are not
 * an object (null, an array, a string) before the guard could audit them; its check is
 * given the call with neutral arguments instead, and the handler the real ones (the
 * custom-schema registration keeps them as parsed, `__proto__` members included). The
 * guard checks them. Everything else of the SDK's wrapping (input_required, result
 * checks) stays.
 */
class RawToolCallServer extends Server {
  protected override _wrapHandler(
    method: string,
    handler: (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>,
  ): (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result> {
    if (method !== "tools/call") return super._wrapHandler(method, handler);
    const sent = new WeakMap<JSONRPCRequest, JSONRPCRequest>();
    const wrapped = super._wrapHandler(method, (request, ctx) =>
      handler(sent.get(request) ?? request, ctx),
    );
    return (request, ctx) => {
      const neutral = {
        ...request,
        params: { ...(request.params ?? {}), name: "tool", arguments: {} },
      } as JSONRPCRequest;
      sent.set(neutral, request);
      return wrapped(neutral, ctx);
    };
  }
}

/** 2026-07-28: a question for the user goes back as `input_required`, answered on the retry. */
async function callModern(
  session: GuardSession,
  name: string,
  args: unknown,
  ctx: ServerContext,
  sealer: RequestStateSealer,
): Promise<CallToolResult | InputRequiredResult> {
  const capabilities = envelopeOf(ctx)[CLIENT_CAPABILITIES_META_KEY] as
    | ClientCapabilities
    | undefined;
  if (!session.guard.clientMayApprove || !canAskHuman(capabilities)) {
    return resultOf(await session.guard.call(name, args, {}));
  }
  const approval = inBandApproval(
    ctx,
    {
      session: session.sessionId,
      key: session.keyId,
      tool: name,
      args: argumentsDigest(canonicalJson(args ?? {})),
    },
    sealer,
  );
  const outcome = await session.guard.call(name, args, { askHuman: approval.askHuman });
  return approval.pending() ?? resultOf(outcome);
}

/**
 * The 2026-07-28 per-request envelope (protocol version, client capabilities), by its
 * `io.modelcontextprotocol/…` keys; empty on 2025 revisions, whose requests carry none.
 */
function envelopeOf(ctx: ServerContext): Record<string, unknown> {
  return (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
}

/**
 * A tools/call as it came off the wire: `arguments` kept exactly as parsed, and a missing
 * or non-string `name` left for the guard to refuse (and audit) as an unknown tool.
 */
const RawCallToolParams = z.looseObject({ name: z.unknown(), arguments: z.unknown() });

function toolNameOf(name: unknown): string {
  return typeof name === "string" ? name : (JSON.stringify(name) ?? "");
}

function resultOf(outcome: CallOutcome): CallToolResult {
  if (outcome.ok) {
    return {
      content: [{ type: "text", text: outcome.text }],
      structuredContent: outcome.output,
    };
  }
  // Errors carry no structuredContent (it would have to match the output schema): the
  // text is the error as JSON, readable by a model and parseable by a program.
  const error = {
    code: outcome.code,
    message: outcome.message,
    ...(outcome.hint ? { hint: outcome.hint } : {}),
  };
  return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }] };
}

/** The `tools/list` entry an agent sees; also what the schema snapshot test records. */
function describeTool(guard: Guard, tool: AnyTool): Tool {
  return toolListing(tool, guard.inputSchemaFor(tool), guard.outputSchemaFor(tool));
}

/** A `tools/list` entry; the operator server describes its tools with it too. */
export function toolListing(
  tool: { name: string; title: string; description: string; annotations: ToolAnnotations },
  input: z.ZodObject,
  output: z.ZodObject,
): Tool {
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: jsonSchema(input, "input"),
    outputSchema: jsonSchema(output, "output"),
    annotations: { title: tool.title, ...tool.annotations },
  };
}

function jsonSchema(schema: z.ZodObject, io: "input" | "output"): Tool["inputSchema"] {
  const { $schema: _draft, ...rest } = z.toJSONSchema(schema, { io, target: "draft-7" });
  return rest as Tool["inputSchema"];
}
