import Stripe from "stripe";
import type { AnyTool, PermissionLevel, StripeResource } from "../../tools/tool.js";
import { redactSecrets } from "../audit/redact.js";
import { formatMoney } from "../money/currency.js";
import type { LoadedPolicy } from "../policy/load.js";

/**
 * Restricted Key permissions for `spendguard scopes` and `doctor`: the least a policy's
 * tools need (write implies read), how Stripe's Dashboard names them, what a key with
 * them can do to money, and read-only probes of what a key actually has.
 */

/** Every resource spendguard talks about: what tools declare, plus dangerous ones to warn of. */
export type KeyResource =
  | StripeResource
  | "products"
  | "prices"
  | "payment_methods"
  | "transfers"
  | "payouts"
  | "accounts"
  | "webhook_endpoints";

export type PermissionSet = Partial<Record<KeyResource, PermissionLevel>>;

/** The names in the Dashboard's restricted-key editor (Developers → API keys). */
export const DASHBOARD_NAMES: Record<KeyResource, string> = {
  balance: "Balance",
  charges: "Charges",
  customers: "Customers",
  disputes: "Disputes",
  files: "Files",
  invoices: "Invoices",
  payment_intents: "PaymentIntents",
  payment_methods: "PaymentMethods",
  prices: "Prices",
  products: "Products",
  refunds: "Refunds",
  subscriptions: "Subscriptions",
  transfers: "Transfers",
  payouts: "Payouts",
  accounts: "Accounts (Connect)",
  webhook_endpoints: "Webhook Endpoints",
};

export interface NeededPermission {
  resource: KeyResource;
  level: PermissionLevel;
  /** The tools that need it, each with the level it needs. */
  tools: { name: string; level: PermissionLevel }[];
}

const rank = (level: PermissionLevel | undefined) =>
  level === "write" ? 2 : level === "read" ? 1 : 0;

/** The Stripe tools a policy enables (only reads with `readOnly`, as `serve --read-only`). */
export function enabledTools(
  policy: LoadedPolicy,
  tools: readonly AnyTool[],
  readOnly = false,
): AnyTool[] {
  return tools.filter(
    (tool) =>
      tool.kind !== "session" &&
      tool.name in policy.policy.tools &&
      !(readOnly && tool.kind === "write"),
  );
}

/** The minimum set: for each resource the highest level any enabled tool needs. */
export function neededPermissions(tools: readonly AnyTool[]): NeededPermission[] {
  const byResource = new Map<KeyResource, NeededPermission>();
  for (const tool of tools) {
    for (const [resource, level] of Object.entries(tool.permissions) as [
      KeyResource,
      PermissionLevel,
    ][]) {
      const entry = byResource.get(resource) ?? { resource, level, tools: [] };
      if (rank(level) > rank(entry.level)) entry.level = level;
      entry.tools.push({ name: tool.name, level });
      byResource.set(resource, entry);
    }
  }
  return [...byResource.values()].sort((a, b) =>
    DASHBOARD_NAMES[a.resource].localeCompare(DASHBOARD_NAMES[b.resource]),
  );
}

export function permissionSet(needed: readonly NeededPermission[]): PermissionSet {
  return Object.fromEntries(needed.map((p) => [p.resource, p.level]));
}

/** `charges:read customers:read refunds:write`, sorted by resource. */
export function permissionList(set: PermissionSet): string[] {
  return (Object.entries(set) as [KeyResource, PermissionLevel][])
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([resource, level]) => `${resource}:${level}`);
}

/** What a write on each resource lets the key do; `money` when funds move. */
const WRITE_EFFECTS: Partial<Record<KeyResource, { money: boolean; what: string }>> = {
  refunds: { money: true, what: "send money back to customers (refunds)" },
  payment_intents: {
    money: true,
    what: "confirm and capture payments: take money from customers' cards",
  },
  charges: { money: true, what: "create and capture charges: take money from customers' cards" },
  invoices: {
    money: true,
    what: "pay invoices: charge the customer's saved payment method now",
  },
  transfers: { money: true, what: "send money from the balance to connected accounts" },
  payouts: { money: true, what: "send the balance to bank accounts" },
  subscriptions: {
    money: false,
    what: "cancel or change subscriptions: no money moves now, recurring revenue is at risk",
  },
  disputes: {
    money: false,
    what: "submit dispute evidence; closing a dispute accepts losing it",
  },
  customers: { money: false, what: "change customers, including their default payment method" },
  payment_methods: { money: false, what: "attach and detach customers' payment methods" },
  accounts: { money: false, what: "create and change connected accounts, their bank details" },
  webhook_endpoints: {
    money: false,
    what: "send Stripe's event notifications (with customer data) to any URL",
  },
  files: { money: false, what: "upload files (dispute evidence, identity documents)" },
  products: { money: false, what: "change products" },
  prices: { money: false, what: "change prices" },
};

export interface BlastRadius {
  moneyWrites: { resource: KeyResource; what: string }[];
  otherWrites: { resource: KeyResource; what: string }[];
  warnings: string[];
}

const NEVER_WRITE: readonly KeyResource[] = [
  "transfers",
  "payouts",
  "accounts",
  "webhook_endpoints",
];

/** What a key with `set` can do to money, and the combinations to avoid. */
export function blastRadius(set: PermissionSet): BlastRadius {
  const writes = (Object.entries(set) as [KeyResource, PermissionLevel][])
    .filter(([, level]) => level === "write")
    .map(([resource]) => resource)
    .sort();
  const effect = (resource: KeyResource) =>
    WRITE_EFFECTS[resource] ?? { money: false, what: "change these objects" };
  const warnings: string[] = [];
  for (const resource of NEVER_WRITE) {
    if (set[resource] === "write") {
      warnings.push(
        `${DASHBOARD_NAMES[resource]} write lets the key ${effect(resource).what}; no spendguard tool needs it: set it to None.`,
      );
    }
  }
  const takes = (["charges", "payment_intents"] as const).filter((r) => set[r] === "write");
  if (set.refunds === "write" && takes.length > 0) {
    warnings.push(
      `Refunds write together with ${takes.map((r) => DASHBOARD_NAMES[r]).join(" and ")} write: one key can both take money and give it back; give refunds and payments to separate agents with separate keys.`,
    );
  }
  if (set.customers === "write" && set.payment_methods === "write") {
    warnings.push(
      "Customers write with PaymentMethods write: the key can attach a card to a customer and make it their default, which every later charge or invoice payment then uses.",
    );
  }
  return {
    moneyWrites: writes
      .filter((r) => effect(r).money)
      .map((r) => ({ resource: r, what: effect(r).what })),
    otherWrites: writes
      .filter((r) => !effect(r).money)
      .map((r) => ({ resource: r, what: effect(r).what })),
    warnings,
  };
}

/** The policy's money caps in one line: what bounds the writes the key allows. */
export function capsLine(policy: LoadedPolicy): string {
  const { caps } = policy;
  const parts = [
    ["per call", caps.perCall],
    ["per session", caps.perSession],
    ["per day", caps.perDay],
    ["per customer per day", caps.perCustomerPerDay],
  ]
    .filter((entry): entry is [string, number] => entry[1] !== null)
    .map(([name, amount]) => `${formatMoney(amount, caps.currency)} ${name}`);
  const counts = [
    caps.cancellationsPerSession !== null
      ? `${caps.cancellationsPerSession} cancellation(s) per session`
      : null,
    caps.cancellationsPerDay !== null
      ? `${caps.cancellationsPerDay} cancellation(s) per day`
      : null,
  ].filter((part) => part !== null);
  const all = [...parts, ...counts];
  return all.length > 0 ? all.join(", ") : "no caps (the policy sets none)";
}

// ---------------------------------------------------------------------------------------
// Probes: one harmless GET per resource. Writes are never tried.

/** A read of each resource that changes nothing (`limit=1` lists, the balance). */
const PROBES: Partial<Record<KeyResource, (stripe: Stripe) => Promise<unknown>>> = {
  balance: (s) => s.balance.retrieve(),
  charges: (s) => s.charges.list({ limit: 1 }),
  customers: (s) => s.customers.list({ limit: 1 }),
  disputes: (s) => s.disputes.list({ limit: 1 }),
  invoices: (s) => s.invoices.list({ limit: 1 }),
  payment_intents: (s) => s.paymentIntents.list({ limit: 1 }),
  refunds: (s) => s.refunds.list({ limit: 1 }),
  subscriptions: (s) => s.subscriptions.list({ limit: 1 }),
};

export const PROBED_RESOURCES = Object.keys(PROBES) as KeyResource[];

export type ProbeStatus =
  /** The read worked: the key has at least read. */
  | "granted"
  /** Stripe answered 403 for lack of permission. */
  | "missing"
  /** Stripe did not accept the key at all. */
  | "rejected"
  /** Stripe (or the sandbox) could not be reached. */
  | "unreachable"
  /** Anything else; `detail` says what. */
  | "unclear";

export interface ProbeResult {
  resource: KeyResource;
  status: ProbeStatus;
  detail?: string;
}

export async function probe(stripe: Stripe, resource: KeyResource): Promise<ProbeResult> {
  const read = PROBES[resource];
  if (!read) return { resource, status: "unclear", detail: "no read-only probe for it" };
  try {
    await read(stripe);
    return { resource, status: "granted" };
  } catch (error) {
    const detail = redactSecrets(error instanceof Error ? error.message : String(error));
    if (error instanceof Stripe.errors.StripePermissionError) {
      return { resource, status: "missing", detail };
    }
    if (error instanceof Stripe.errors.StripeAuthenticationError) {
      return { resource, status: "rejected", detail };
    }
    if (error instanceof Stripe.errors.StripeConnectionError) {
      return { resource, status: "unreachable", detail };
    }
    return { resource, status: "unclear", detail };
  }
}

/** Probes every resource given, in parallel. */
export function probeAll(
  stripe: Stripe,
  resources: readonly KeyResource[],
): Promise<ProbeResult[]> {
  return Promise.all(resources.map((resource) => probe(stripe, resource)));
}

/** `rk_test_…`/`sk_live_…`: the key's kind and mode from its prefix, if it has one. */
export function keyKind(
  key: string,
): { kind: "restricted" | "secret"; mode: "test" | "live" } | null {
  const match = /^(rk|sk)_(test|live)_/.exec(key);
  if (!match) return null;
  return {
    kind: match[1] === "rk" ? "restricted" : "secret",
    mode: match[2] === "live" ? "live" : "test",
  };
}
