import type { DenyCode } from "../errors.js";

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
