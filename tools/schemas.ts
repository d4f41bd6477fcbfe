import { z } from "zod";

/**
 * Input and output building blocks shared by the tool files: Stripe ids checked by
 * prefix, money as Stripe counts it, list paging.
 */

/** A Stripe object id with its prefix, e.g. `stripeId("ch", "charge")` accepts `ch_3MmlLrLkdIwHu7ix0snN0B15`. */
export function stripeId(prefix: string, what: string) {
  return z
    .string()
    .max(255)
    .regex(new RegExp(`^${prefix}_[A-Za-z0-9_]+$`), `must be a ${what} id starting with ${prefix}_`)
    .describe(`The ${what} id (${prefix}_…).`);
}

export const ids = {
  charge: stripeId("ch", "charge"),
  customer: stripeId("cus", "customer"),
  paymentIntent: stripeId("pi", "payment intent"),
  refund: stripeId("re", "refund"),
  subscription: stripeId("sub", "subscription"),
  invoice: stripeId("in", "invoice"),
  dispute: stripeId("dp", "dispute"),
};

/** An amount in the currency's smallest unit, never a float: 1000 is $10.00 but ¥1,000. */
export const minorAmount = z
  .number()
  .int("must be a whole number in the currency's smallest unit")
  .positive()
  .max(99_999_999)
  .describe(
    "Amount in the currency's smallest unit, as Stripe counts it: cents for usd/eur (1000 = 10.00), whole yen for jpy (1000 = ¥1,000), fils for bhd (1000 = 1.000).",
  );

export const listLimit = z
  .number()
  .int()
  .min(1)
  .max(100)
  .default(10)
  .describe("How many to return, 1–100 (default 10), newest first.");

/** Money as the agent sees it: Stripe's integer and currency, plus a display string. */
export const moneyView = z.object({
  amount: z.number().int().describe("In the currency's smallest unit."),
  currency: z.string(),
  display: z.string().describe("Human-readable, e.g. $12.50 or ¥5,000."),
});
export type MoneyView = z.infer<typeof moneyView>;

/** Unix seconds from Stripe → ISO text the agent can read. */
export const isoTime = z.string().describe("ISO 8601 time (UTC).");
