import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { Protocol } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { AnyTool, ToolAnnotations } from "../tools/tool.js";
import { askThroughClient, canAskHuman } from "./elicitation.js";
import type { CallOutcome, Guard } from "./guard/guard.js";
import { VERSION } from "./version.js";

const INSTRUCTIONS =
  "spendguard gives you a few Stripe tools under an operator's policy. Money amounts are integers in the currency's smallest unit (cents for usd, whole yen for jpy). Every call is checked against spending caps, the customers you may serve and parameter rules; a refusal is a tool error with a `code`, a `message` saying why and a `hint` saying what you can still do. Call `session_status` to see what is left. Repeating the exact same write returns its first result instead of doing it twice.";

/**
 * Builds the MCP server for one guard session. It never knows which wire it is on: the
 * transports in `src/transports/` connect it. Every tool call goes through the guard,
 * which audits it, so malformed calls and unknown tools are answered (and recorded) here
 * rather than rejected by the SDK.
 */
export function createServer(guard: Guard): Server {
  const server = new Server(
    { name: "spendguard", title: "spendguard", version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );

  // A session's tools never change (policy and read-only are fixed when it opens), so the
  // zod → JSON Schema conversion runs on the first tools/list only.
  let listing: Tool[] | undefined;
  server.setRequestHandler(ListToolsRequestSchema, () => {
    listing ??= guard.listTools().map((tool) => describeTool(guard, tool));
    return { tools: listing };
  });

  // Registered past Server's own tools/call check, which would refuse `arguments` that are
  // not an object (null, an array, a string) before the guard could audit them, and copy
  // the arguments so that a `__proto__` member vanished. The guard checks them as sent.
  const setRawHandler = Protocol.prototype.setRequestHandler as (
    this: Server,
    schema: typeof RawCallToolRequestSchema,
    handler: (
      request: z.infer<typeof RawCallToolRequestSchema>,
      extra: Parameters<Parameters<Server["setRequestHandler"]>[1]>[1],
    ) => Promise<CallToolResult>,
  ) => void;
  setRawHandler.call(server, RawCallToolRequestSchema, async (request, extra) => {
    // Calls that need a person's approval ask the user in-band when the client can, and
    // when this session's client may say yes at all (never, by default, over HTTP).
    const askHuman =
      guard.clientMayApprove && canAskHuman(server)
        ? askThroughClient(server, { requestId: extra.requestId, signal: extra.signal })
        : undefined;
    const { name, arguments: args } = request.params ?? {};
    return resultOf(await guard.call(toolNameOf(name), args, { askHuman }));
  });

  return server;
}

/**
 * A tools/call as it came off the wire: `arguments` kept exactly as parsed, and a missing
 * or non-string `name` left for the guard to refuse (and audit) as an unknown tool.
 */
const RawCallToolRequestSchema = z.object({
  method: z.literal("tools/call"),
  params: z.looseObject({ name: z.unknown(), arguments: z.unknown() }).optional(),
});

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
