import type { AnyTool, Resolution } from "../../tools/tool.js";
import { type ApprovalNeed, approvalNeeded, approvalRequired } from "../approvals/rules.js";
import { type CallCharge, chargeOf, noCharge } from "../money/charge.js";
import { allow, type Decision, type Denial, deny } from "../policy/decision.js";
import type { LoadedPolicy } from "../policy/load.js";
import { checkArgumentParams, checkResolvedParams, effectiveRules } from "../policy/params.js";
import { checkCustomerScope } from "../policy/scope.js";
import type { SessionState, UsageSnapshot } from "../store/store.js";
import { checkCaps, toolLimits } from "./caps.js";
import type { KillFlag } from "./kill.js";

/**
 * The guard's decisions as pure functions of what is known at each step: no I/O, no
 * clock, no store. `decide` is the whole of it in one call; the pipeline calls the steps
 * as their inputs become known (the arguments, then what Stripe says, then the usage read
 * inside the admitting transaction), which gives the same answer.
 */

export interface SessionFacts {
  state: SessionState;
  expiresAt: number | null;
  killedBy: string | null;
  killReason: string | null;
}

export interface CallFacts {
  policy: LoadedPolicy;
  tool: AnyTool;
  /** The tool's own arguments (the guard's `stripe_account` taken out). */
  args: Readonly<Record<string, unknown>>;
  /** `Stripe-Account` asked for; `null` for the platform account. */
  account: string | null;
  session: SessionFacts;
  /** A kill flag file found for this session. */
  killFlag: KillFlag | null;
  now: number;
  readOnly: boolean;
}

export function checkSession(
  session: SessionFacts,
  killFlag: KillFlag | null,
  policy: LoadedPolicy,
  now: number,
): Denial | undefined {
  if (session.state === "killed" || killFlag) {
    const reason = session.state === "killed" ? session.killReason : killFlag?.reason;
    return deny(
      "session_killed",
      killFlag && session.state !== "killed" ? "kill flag" : "session.state",
      `This session was stopped by the operator${reason ? ` (${reason})` : ""}. No further calls are possible in it; tell the user and stop.`,
    );
  }
  if (session.state === "ended") {
    return deny(
      "session_ended",
      "session.state",
      "This session was ended with end_session; no further calls are possible in it. The operator can start a new one.",
    );
  }
  if (session.state === "expired" || (session.expiresAt !== null && now >= session.expiresAt)) {
    return deny(
      "session_expired",
      "session_ttl",
      `This session expired${session.expiresAt !== null ? ` at ${new Date(session.expiresAt).toISOString()}` : ""} (session_ttl ${policy.policy.session_ttl ?? "?"}). No further calls are possible in it; the operator can start a new one.`,
    );
  }
  const expiresAt = policy.policy.expires_at;
  if (expiresAt && now >= expiresAt.getTime()) {
    return deny(
      "policy_expired",
      "expires_at",
      `The policy '${policy.name}' expired at ${expiresAt.toISOString()}; no tool can be used until the operator renews it.`,
    );
  }
  return undefined;
}

export function checkToolAllowed(
  policy: LoadedPolicy,
  tool: AnyTool,
  readOnly: boolean,
): Denial | undefined {
  if (tool.kind === "session") return undefined;
  if (!(tool.name in policy.policy.tools)) {
    return deny(
      "tool_not_allowed",
      "tools",
      `Tool '${tool.name}' is not allowed for this agent (policy '${policy.name}'). Use only the tools listed for this session (session_status shows them).`,
    );
  }
  if (readOnly && tool.kind === "write") {
    return deny(
      "tool_not_allowed",
      "read-only",
      `Tool '${tool.name}' changes Stripe, and this server runs read-only: only reading tools are available.`,
    );
  }
  return undefined;
}

export function checkAccount(
  policy: LoadedPolicy,
  tool: AnyTool,
  account: string | null,
): Denial | undefined {
  if (account === null || policy.policy.connected_accounts.includes(account)) return undefined;
  return deny(
    "account_out_of_scope",
    "connected_accounts",
    `${tool.name} refused: connected account ${account} is not one this agent may act on. Allowed: ${policy.policy.connected_accounts.join(", ")}, or leave stripe_account out for the platform account.`,
  );
}

/** Everything decidable from the arguments alone, before Stripe is read. */
export function decideBeforeResolve(facts: CallFacts): Denial | undefined {
  const { policy, tool } = facts;
  return (
    checkToolAllowed(policy, tool, facts.readOnly) ??
    checkSession(facts.session, facts.killFlag, policy, facts.now) ??
    checkAccount(policy, tool, facts.account) ??
    checkArgumentParams(effectiveRules(policy.policy, tool), tool.name, facts.args)
  );
}

/** A call that passed: its charge, and whether it needs a person's yes before the caps. */
export type AfterResolve =
  | { decision: Denial }
  | { charge: CallCharge; approval?: ApprovalNeed | undefined };

/** Whose object it is: the first thing decided once Stripe has been read. */
export function checkScope(
  facts: CallFacts,
  customer: Resolution<unknown>["customer"],
): Denial | undefined {
  const { policy, tool } = facts;
  if (tool.kind === "session" || tool.scope !== "customer") return undefined;
  return checkCustomerScope(policy.policy.customers, tool.name, customer);
}

/** What Stripe told us: whose object it is, derived values, money and its currency. */
export function decideAfterResolve(
  facts: CallFacts,
  resolution: Pick<Resolution<unknown>, "customer" | "moves" | "revenueAtRisk" | "attributes">,
): AfterResolve {
  const { policy, tool } = facts;
  const { caps } = policy;
  const denied =
    checkScope(facts, resolution.customer) ??
    checkResolvedParams(
      effectiveRules(policy.policy, tool),
      tool.name,
      facts.args,
      resolution.attributes ?? {},
    );
  if (denied) return { decision: denied };

  const priced = chargeOf(resolution, caps.fx);
  if ("unconvertible" in priced) {
    return {
      decision: deny(
        "currency_not_convertible",
        "fx",
        `${tool.name} refused: it moves money in ${priced.unconvertible.toUpperCase()}, and this policy has no exchange rate from ${priced.unconvertible} to ${caps.currency}, so its caps cannot count it. Nothing was changed; the operator can add one under fx.`,
      ),
    };
  }
  const { charge } = priced;
  const approval = approvalNeeded(policy, tool, facts.args, resolution.attributes ?? {}, charge);
  return { charge, approval };
}

/** The caps and call limits, over usage read inside the admitting transaction. */
export function decideCaps(
  facts: CallFacts,
  charge: CallCharge,
  hasCustomer: boolean,
  usage: UsageSnapshot,
): Decision {
  return checkCaps(
    {
      tool: facts.tool.name,
      caps: facts.policy.caps,
      limits: toolLimits(facts.policy.policy, facts.tool.name),
      charge,
      hasCustomer,
    },
    usage,
  );
}

/**
 * The whole decision about one call from everything known about it: the policy, the
 * session, the tool, its arguments, what Stripe resolved and the usage so far.
 */
export function decide(
  facts: CallFacts,
  resolution: Pick<
    Resolution<unknown>,
    "customer" | "moves" | "revenueAtRisk" | "attributes"
  > | null,
  usage: UsageSnapshot,
): Decision {
  const before = decideBeforeResolve(facts);
  if (before) return before;
  if (facts.tool.kind === "session") return allow("session", "session tools are always available");
  const after = resolution
    ? decideAfterResolve(facts, resolution)
    : { charge: noCharge(facts.policy.caps.currency) };
  if ("decision" in after) return after.decision;
  if (after.approval) {
    return approvalRequired({ tool: facts.tool.name, charge: after.charge, need: after.approval });
  }
  return decideCaps(facts, after.charge, resolution?.customer != null, usage);
}
