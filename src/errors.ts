import type { DenyCode } from "./guard/decision.js";

/**
 * Every failure an agent or an operator can see carries one of these stable codes.
 * Denials use the guard's codes; the rest say what went wrong around the decision.
 */
export type ErrorCode =
  | DenyCode
  | "invalid_input"
  | "unknown_tool"
  | "stripe_permission_denied"
  | "stripe_error"
  | "stripe_unavailable"
  | "outcome_unknown"
  | "internal_error";

export class SpendguardError extends Error {
  override name = "SpendguardError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** What the agent (or operator) can do next. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** A configuration problem found at start-up (bad policy, bad key, bad flag): the process exits with it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
