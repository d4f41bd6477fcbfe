import { type Denial, deny } from "./decision.js";
import type { CustomerScope } from "./schema.js";

/** The customer a call touches, as customer scope needs to see it. */
export interface CustomerFacts {
  id: string;
  email: string | null;
  metadata: Record<string, string>;
  /** For the person asked to approve a call; scope never looks at it. */
  name?: string | null;
}

/**
 * Customer scope: which customers this agent may touch. Every criterion the policy gives
 * must hold (ids AND metadata AND email domain). A call on an object with no customer is
 * out of scope unless the policy says `allow_no_customer` (or `customers: all`).
 */

export function inScope(scope: CustomerScope, customer: CustomerFacts | null): boolean {
  if (scope === "all") return true;
  if (customer === null) return scope.allow_no_customer;
  if (scope.ids && !scope.ids.includes(customer.id)) return false;
  if (scope.metadata) {
    for (const [key, value] of Object.entries(scope.metadata)) {
      if (customer.metadata[key] !== value) return false;
    }
  }
  if (scope.email_domains) {
    const domain = customer.email?.split("@").pop()?.toLowerCase();
    if (!domain || !scope.email_domains.some((allowed) => allowed.toLowerCase() === domain)) {
      return false;
    }
  }
  return true;
}

/**
 * The decision says nothing about the customer it refused (not its id, email or metadata,
 * not even whether there is one): the agent must not learn anything about objects outside
 * its scope. Only the rule, which the audit keeps, tells a guest object apart.
 */
export function checkCustomerScope(
  scope: CustomerScope,
  tool: string,
  customer: CustomerFacts | null,
): Denial | undefined {
  if (inScope(scope, customer)) return undefined;
  const rule = customer === null ? "customers.allow_no_customer" : "customers";
  return deny(
    "customer_out_of_scope",
    rule,
    `${tool} refused: customer out of scope — this agent may only act for the customers its policy allows. Nothing was changed; do not retry for this object.`,
  );
}
