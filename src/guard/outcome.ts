import type { ErrorCode, SpendguardError } from "../errors.js";
import type { Settlement } from "../store/store.js";

/** What a tool call comes to, as the transports hand it to the agent. */
export type CallOutcome =
  | { ok: true; output: Record<string, unknown>; text: string }
  | { ok: false; code: ErrorCode; message: string; hint?: string };

/** A refusal or failure as the agent gets it: the error's code (unless overridden), message and hint. */
export function errorOutcome(error: SpendguardError, code: ErrorCode = error.code): CallOutcome {
  return {
    ok: false,
    code,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
  };
}

/** A counted repeat moves nothing. */
export const ZERO_SETTLEMENT: Settlement = {
  amount: 0,
  amount_cap: 0,
  stripe_request_id: null,
  result: null,
};
