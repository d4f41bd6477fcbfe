import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { CallToolResult, Tool } from "@modelcontextprotocol/server";
import { Server } from "@modelcontextprotocol/server";
import { operatorEntry } from "../audit/operator-entry.js";
import { redactSecrets } from "../audit/redact.js";
import { agentName, printableLines } from "../audit/text.js";
import { describeInvalidArguments, quoteName } from "../guard/agent-schemas.js";
import type { Logger } from "../logger.js";
import { silentLogger } from "../logger.js";
import { toolListing } from "../server.js";
import type { AuditDecision, AuditOutcome, Store } from "../store/store.js";
import { VERSION } from "../version.js";
import { type AnyOperatorTool, OperatorError, type OperatorErrorCode } from "./tool.js";
import { OPERATOR_TOOLS } from "./tools/index.js";

const INSTRUCTIONS =
  "spendguard operator console: see the agents' sessions and what they spent, stop sessions (one, all of an agent's, or all) on their very next call, approve or reject the calls waiting for a person's yes, and resume agents an alert rule paused. There is no Stripe tool here. Every call you make is recorded in the audit under your operator name.";

export interface OperatorSession {
  store: Store;
  /** SPENDGUARD_HOME, for kill flags. */
  home: string;
  /** `ops_…`: names this operator session in the audit. */
  sessionId: string;
  /** `operator:<name>`: what kills record as `killed_by`, and the audit's agent column. */
  operator: string;
  clock?: () => number;
  logger?: Logger;
}

/** An operator session's id; never a guard session, so no kill or cap ever applies to it. */
export function newOperatorSessionId(): string {
  return `ops_${randomBytes(12).toString("hex")}`;
}

/**
 * Builds the MCP server of one operator session: the control tools only, never a Stripe
 * tool. Each call, refused ones included, is one audit row under the operator's name.
 */
export function createOperatorServer(session: OperatorSession): Server {
  const server = new Server(
    { name: "spendguard-operator", title: "spendguard operator", version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );
  server.setRequestHandler("tools/list", () => {
    operatorListing ??= OPERATOR_TOOLS.map(describeOperatorTool);
    return { tools: operatorListing };
  });
  server.setRequestHandler("tools/call", (request) =>
    callOperatorTool(session, request.params.name, request.params.arguments ?? {}),
  );
  return server;
}

/** The operator tools never change: described once per process, on the first tools/list. */
let operatorListing: Tool[] | undefined;

/** The `tools/list` entry of an operator tool. */
function describeOperatorTool(tool: AnyOperatorTool): Tool {
  return toolListing(tool, tool.input, tool.output);
}

async function callOperatorTool(
  session: OperatorSession,
  name: string,
  rawArgs: unknown,
): Promise<CallToolResult> {
  const started = performance.now();
  const now = (session.clock ?? Date.now)();
  const audit = async (
    decision: AuditDecision,
    outcome: AuditOutcome,
    code: string | null,
    reason: string,
  ) =>
    await session.store.appendAudit(
      operatorEntry({
        at: now,
        session: session.sessionId,
        operator: session.operator,
        tool: agentName(name),
        args: rawArgs,
        decision,
        outcome,
        code,
        reason,
        durationMs: performance.now() - started,
      }),
    );
  const refuse = async (outcome: AuditOutcome, error: OperatorError): Promise<CallToolResult> => {
    await audit("error", outcome, error.code, error.message);
    return errorResult(error.code, error.message);
  };

  const tool = OPERATOR_TOOLS.find((t) => t.name === name);
  if (!tool) {
    const names = OPERATOR_TOOLS.map((t) => t.name).join(", ");
    return refuse(
      "invalid",
      new OperatorError(
        "unknown_tool",
        `Unknown tool ${quoteName(name)}. Operator tools: ${names}.`,
      ),
    );
  }
  const parsed = tool.input.safeParse(rawArgs);
  if (!parsed.success) {
    return refuse(
      "invalid",
      new OperatorError("invalid_input", describeInvalidArguments(name, tool.input, parsed.error)),
    );
  }
  try {
    const result = await tool.handle(
      { store: session.store, home: session.home, operator: session.operator, now },
      parsed.data,
    );
    await audit("allow", "ok", null, result.text);
    return {
      // Stored text (an agent's approval summary, a kill reason) shows as text, not escapes.
      content: [{ type: "text", text: printableLines(result.text) }],
      structuredContent: result.output,
    };
  } catch (err) {
    if (err instanceof OperatorError) return await refuse("failed", err);
    (session.logger ?? silentLogger).error(
      { err: redactSecrets(String(err)), session: session.sessionId, tool: name },
      "operator tool failed unexpectedly",
    );
    return refuse(
      "failed",
      new OperatorError("internal_error", `${name} failed unexpectedly; the server log says why.`),
    );
  }
}

function errorResult(code: OperatorErrorCode, message: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: JSON.stringify({ error: { code, message } }) }],
  };
}
