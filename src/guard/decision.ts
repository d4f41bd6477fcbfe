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
 * What the guard decided about one call, as a value: it is returned, tested and audited,
 * never thrown. `rule` names the policy field that decided (e.g. `caps.per_session`),
 * `reason` is written for the agent: what was refused, why, and what it may still do.
 */
export type Decision =
  | { outcome: "allow"; rule: string; reason: string }
  | { outcome: "deny"; code: DenyCode; rule: string; reason: string };

/** A decision that refuses, with its code. */
export type Denial = Extract<Decision, { outcome: "deny" }>;

export const allow = (rule: string, reason: string): Decision => ({
  outcome: "allow",
  rule,
  reason,
});

export const deny = (code: DenyCode, rule: string, reason: string): Denial => ({
  outcome: "deny",
  code,
  rule,
  reason,
});
