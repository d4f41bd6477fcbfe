import type { JsonObject } from "../json.js";
import type { Route } from "../route.js";
import type { Store } from "../store.js";
import { refundedAmount } from "./charges.js";

/** Dispute statuses in which the disputed amount has been taken back from the balance. */
const WITHDRAWN = new Set(["needs_response", "under_review", "lost"]);

/**
 * The account's balance per currency, computed from its objects: captured charges, less
 * refunds and charged-back disputes. No fees and no payouts, so nothing is ever pending.
 */
export function renderBalance(store: Store, account: string): JsonObject {
  const available = new Map<string, number>([["usd", 0]]);
  const add = (currency: string, amount: number) =>
    available.set(currency, (available.get(currency) ?? 0) + amount);
  for (const charge of store.charges.all(account)) {
    if (charge.captured)
      add(charge.currency, charge.amountCaptured - refundedAmount(store, charge));
  }
  for (const dispute of store.disputes.all(account)) {
    if (WITHDRAWN.has(dispute.status)) add(dispute.currency, -dispute.amount);
  }
  const currencies = [...available.keys()].sort();
  return {
    object: "balance",
    available: currencies.map((currency) => ({
      amount: available.get(currency) ?? 0,
      currency,
      source_types: { card: available.get(currency) ?? 0 },
    })),
    connect_reserved: [{ amount: 0, currency: "usd" }],
    livemode: false,
    pending: currencies.map((currency) => ({ amount: 0, currency, source_types: { card: 0 } })),
  };
}

export const balanceRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/balance",
    permission: { resource: "balance", access: "read" },
    returns: "balance",
    params: [],
    validate: (req) => () => renderBalance(req.store, req.account),
  },
];
