import {
  type ClientCapabilities,
  type ElicitRequestFormParams,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  SdkError,
  SdkErrorCode,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { AskHuman, HumanAnswer, HumanQuestion } from "./approvals/gate.js";
import type { RequestStateSealer } from "./request-state.js";

/**
 * Asking the user a yes/no question through their MCP client (elicitation, form mode),
 * for calls the policy says need a person's approval. Only offered when the client
 * declared the capability; the guard falls back to an out-of-band request otherwise.
 *
 * Up to 2025-11-25 the server sends `elicitation/create` while the tool call waits. On
 * 2026-07-28 there is no such request: the tool call answers `input_required` with the
 * question and a sealed `requestState`, and the client retries the same call with the
 * user's answer (`inBandApproval`).
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

/** The key of the question in `inputRequests` / `inputResponses`. */
const QUESTION_KEY = "approve";

/** Whether a client with these capabilities can be asked (a bare `elicitation: {}` is form mode). */
export function canAskHuman(capabilities: ClientCapabilities | undefined): boolean {
  const elicitation = capabilities?.elicitation;
  if (!elicitation) return false;
  return elicitation.form !== undefined || elicitation.url === undefined;
}

/** 2025 revisions: the question goes out as `elicitation/create` on the call's own stream. */
export function askThroughClient(ctx: ServerContext): AskHuman {
  return async ({ message, timeoutMs }) => {
    try {
      const result = await ctx.mcpReq.elicitInput(
        { mode: "form", message, requestedSchema: APPROVAL_FORM },
        { timeout: timeoutMs },
      );
      // `decline` and `cancel` (dismissed) are both a no; so is an accepted form saying no.
      return result.action === "accept" && result.content?.approve === true ? "accept" : "decline";
    } catch (err) {
      const timedOut = err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout;
      return timedOut || ctx.mcpReq.signal.aborted ? "timeout" : "unavailable";
    }
  };
}

/** The call a `requestState` must belong to. */
export interface StatefulCall {
  session: string;
  key: string | null;
  tool: string;
  /** sha256 of the arguments' canonical JSON. */
  args: string;
}

export interface InBandApproval {
  askHuman: AskHuman;
  /** After the guard ran: the `input_required` result to send, if a question is open. */
  pending(): InputRequiredResult | undefined;
}

/**
 * 2026-07-28: one round of an in-band approval. On a call that carries no state, asking
 * defers: the guard files the request (it stays pending for the operator too) and the
 * call answers `input_required`. On the retry, the sealed state says which request the
 * answer is for; an answer counts only for that request, for that caller and exactly
 * these arguments, once, before the state expires.
 */
export function inBandApproval(
  ctx: ServerContext,
  call: StatefulCall,
  sealer: RequestStateSealer,
  clock: () => number = Date.now,
): InBandApproval {
  const token = ctx.mcpReq.requestState();
  const opened = token === undefined ? undefined : sealer.open(token, call);
  let question: HumanQuestion | undefined;
  const askHuman: AskHuman = async (asked): Promise<HumanAnswer> => {
    // No answer yet, or one for another request (that one lapsed): ask this one.
    if (!opened || opened.state?.approval !== asked.approvalId) {
      question = asked;
      return "deferred";
    }
    if (!opened.ok) return opened.reason === "expired" ? "timeout" : "unavailable";
    const answer = inputResponse(ctx.mcpReq.inputResponses, QUESTION_KEY);
    if (answer.kind !== "elicit") return "unavailable";
    return answer.action === "accept" && answer.content?.approve === true ? "accept" : "decline";
  };
  return {
    askHuman,
    pending() {
      if (!question) return undefined;
      return inputRequired({
        inputRequests: {
          [QUESTION_KEY]: inputRequired.elicit({
            message: question.message,
            requestedSchema: APPROVAL_FORM,
          }),
        },
        requestState: sealer.seal({
          approval: question.approvalId,
          ...call,
          expiresAt: clock() + question.timeoutMs,
        }),
      });
    },
  };
}
