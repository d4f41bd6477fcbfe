import { type CallCharge, describeCharge } from "../money/charge.js";
import { formatMoney } from "../money/currency.js";
import { allow, type Decision, deny } from "../policy/decision.js";
import type { PolicyCaps } from "../policy/load.js";
import type { Policy } from "../policy/schema.js";
import type { UsageSnapshot } from "../store/store.js";

/**
 * Caps and call limits over a usage snapshot. Pure: the store runs it inside the write
 * transaction that inserts the admission, so what it sees is what every process sees.
 * Counting rule: settled + reserved + unknown + this call ≤ cap, for every cap.
 */

export interface CallLimit {
  limit: number;
  /** The policy field that set it. */
  rule: string;
}

export interface ToolLimits {
  perSession: CallLimit | null;
  perHour: CallLimit | null;
}

/** A tool's own `calls_per_*` override the policy-wide `limits`. */
export function toolLimits(policy: Policy, tool: string): ToolLimits {
  const own = policy.tools[tool] ?? {};
  const pick = (key: "calls_per_session" | "calls_per_hour"): CallLimit | null => {
    if (own[key] !== undefined) return { limit: own[key], rule: `tools.${tool}.${key}` };
    const fallback = policy.limits[key];
    return fallback === undefined ? null : { limit: fallback, rule: `limits.${key}` };
  };
  return { perSession: pick("calls_per_session"), perHour: pick("calls_per_hour") };
}

export interface CapCheck {
  tool: string;
  caps: PolicyCaps;
  limits: ToolLimits;
  charge: CallCharge;
  /** Whether the call touches a customer (the per-customer cap applies only then). */
  hasCustomer: boolean;
}

export function checkCaps(check: CapCheck, usage: UsageSnapshot): Decision {
  return (
    checkSpend(check, usage) ??
    checkCancellations(check, usage) ??
    checkCallLimits(check, usage) ??
    allow("caps", "within every cap and limit")
  );
}

interface SpendCap {
  cap: number | null;
  used: number;
  code: "cap_session" | "cap_day" | "cap_customer_day";
  rule: string;
  name: string;
  /** What the agent can do when nothing is left. */
  whenExhausted: string;
}

function checkSpend({ tool, caps, charge, hasCustomer }: CapCheck, usage: UsageSnapshot) {
  if (!charge.moves) return undefined;
  const what = `${tool} of ${describeCharge(charge)}`;
  const money = (amount: number) => formatMoney(amount, caps.currency);
  if (caps.perCall !== null && charge.amountCap > caps.perCall) {
    return deny(
      "cap_per_call",
      "caps.per_call",
      `${what} refused: over the ${money(caps.perCall)} per-call cap. Amounts up to ${money(caps.perCall)} per call are still possible.`,
    );
  }
  const windows: SpendCap[] = [
    {
      cap: caps.perSession,
      used: usage.sessionSpend,
      code: "cap_session",
      rule: "caps.per_session",
      name: "session cap",
      whenExhausted: "No more money can move in this session; tools that move no money still work.",
    },
    {
      cap: caps.perDay,
      used: usage.daySpend,
      code: "cap_day",
      rule: "caps.per_day",
      name: "daily cap (rolling 24 hours, all of this agent's sessions)",
      whenExhausted:
        "More becomes available as earlier spend ages out of the 24-hour window; tools that move no money still work.",
    },
    {
      cap: hasCustomer ? caps.perCustomerPerDay : null,
      used: usage.customerDaySpend,
      code: "cap_customer_day",
      rule: "caps.per_customer_per_day",
      name: "daily cap for this customer (rolling 24 hours)",
      whenExhausted:
        "No more money can move for this customer until earlier spend ages out of the 24-hour window; other customers are not affected.",
    },
  ];
  for (const window of windows) {
    if (window.cap === null || window.used + charge.amountCap <= window.cap) continue;
    const left = Math.max(0, window.cap - window.used);
    const reason =
      left > 0
        ? `${what} refused: only ${money(left)} left of the ${money(window.cap)} ${window.name}. Smaller amounts up to ${money(left)} are still possible.`
        : `${what} refused: nothing left of the ${money(window.cap)} ${window.name}. ${window.whenExhausted}`;
    return deny(window.code, window.rule, reason);
  }
  return undefined;
}

function checkCancellations({ tool, caps, charge }: CapCheck, usage: UsageSnapshot) {
  if (!charge.cancellation) return undefined;
  if (
    caps.cancellationsPerSession !== null &&
    usage.cancellationsSession + 1 > caps.cancellationsPerSession
  ) {
    return deny(
      "cap_session",
      "caps.cancellations_per_session",
      `${tool} refused: this session may cancel at most ${caps.cancellationsPerSession} subscription(s) and has used them all. Other tools still work.`,
    );
  }
  if (caps.cancellationsPerDay !== null && usage.cancellationsDay + 1 > caps.cancellationsPerDay) {
    return deny(
      "cap_day",
      "caps.cancellations_per_day",
      `${tool} refused: this agent may cancel at most ${caps.cancellationsPerDay} subscription(s) per rolling 24 hours and has used them all. Other tools still work.`,
    );
  }
  return undefined;
}

function checkCallLimits({ tool, limits }: CapCheck, usage: UsageSnapshot) {
  if (limits.perSession && usage.toolCallsSession + 1 > limits.perSession.limit) {
    return deny(
      "rate_limited",
      limits.perSession.rule,
      `${tool} refused: at most ${limits.perSession.limit} call(s) of it per session, all used. Other tools still work.`,
    );
  }
  if (limits.perHour && usage.toolCallsHour + 1 > limits.perHour.limit) {
    return deny(
      "rate_limited",
      limits.perHour.rule,
      `${tool} refused: at most ${limits.perHour.limit} call(s) of it per rolling hour, all used. Try again later; other tools still work.`,
    );
  }
  return undefined;
}
