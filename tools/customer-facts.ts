import type Stripe from "stripe";
import type { CustomerFacts, ToolContext } from "./tool.js";

type CustomerRef = string | Stripe.Customer | Stripe.DeletedCustomer | null;

/**
 * The customer facts scope needs (id, email, metadata), and the name an approval request
 * shows, from whatever Stripe put in an object's `customer` field: nothing, an id (one
 * more read), or the expanded customer.
 */
export async function customerFacts(
  ctx: ToolContext,
  ref: CustomerRef,
): Promise<CustomerFacts | null> {
  if (ref == null) return null;
  const customer =
    typeof ref === "string"
      ? await ctx.stripe.customers.retrieve(ref, {}, ctx.requestOptions)
      : ref;
  if (customer.deleted) return { id: customer.id, email: null, metadata: {}, name: null };
  return {
    id: customer.id,
    email: customer.email,
    metadata: customer.metadata,
    name: customer.name ?? null,
  };
}

/** Looks up each distinct customer once, for list tools that filter many objects by scope. */
export function customerFactsCache(ctx: ToolContext) {
  const known = new Map<string, Promise<CustomerFacts | null>>();
  return (ref: CustomerRef): Promise<CustomerFacts | null> => {
    if (ref == null) return Promise.resolve(null);
    const id = typeof ref === "string" ? ref : ref.id;
    let facts = known.get(id);
    if (!facts) {
      facts = customerFacts(ctx, ref);
      known.set(id, facts);
    }
    return facts;
  };
}
