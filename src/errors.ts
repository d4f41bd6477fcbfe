/** Stable denial codes: agents branch on them, operators grep for them, tests assert them. */
export const DENY_CODES = [
  "tool_not_allowed",
  "param_not_allowed",
  "customer_out_of_scope",
  "account_out_of_scope",
  "cap_per_call",
  "cap_session",
  "cap_day",
  "cap_customer_day",
  "rate_limited",
  "session_killed",
  "session_expired",
  "session_ended",
  "policy_expired",
  "currency_not_convertible",
  "approval_required",
  "approval_declined",
  "approval_timeout",
] as const;

export type DenyCode = (typeof DENY_CODES)[number];

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
  | "session_limit"
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
