import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  type ElicitRequestFormParams,
  ErrorCode,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import type { AskHuman } from "./approvals/gate.js";

/**
 * Asking the user a yes/no question through their MCP client (elicitation, form mode),
 * for calls the policy says need a person's approval. Only offered when the client
 * declared the capability; the guard falls back to an out-of-band request otherwise.
 */

/** A single required yes/no: every client that renders forms can show it. */
const APPROVAL_FORM: ElicitRequestFormParams["requestedSchema"] = {
  type: "object",
  properties: {
    approve: {
      type: "boolean",
      title: "Approve?",
      description: "Yes lets this one call through (the caps still apply); no refuses it.",
    },
  },
  required: ["approve"],
};

/** What the client can be asked, from what it declared at initialisation. */
export function canAskHuman(server: Server): boolean {
  return server.getClientCapabilities()?.elicitation?.form !== undefined;
}

export interface AskContext {
  /** The tool call being decided: the question travels with it (on its HTTP stream). */
  requestId: string | number;
  /** Aborted when the client gives up on the tool call. */
  signal: AbortSignal;
}

export function askThroughClient(server: Server, context: AskContext): AskHuman {
  return async ({ message, timeoutMs }) => {
    try {
      const result = await server.elicitInput(
        { mode: "form", message, requestedSchema: APPROVAL_FORM },
        { timeout: timeoutMs, relatedRequestId: context.requestId, signal: context.signal },
      );
      // `decline` and `cancel` (dismissed) are both a no; so is an accepted form saying no.
      return result.action === "accept" && result.content?.approve === true ? "accept" : "decline";
    } catch (err) {
      const timedOut = err instanceof McpError && err.code === ErrorCode.RequestTimeout;
      return timedOut || context.signal.aborted ? "timeout" : "unavailable";
    }
  };
}
