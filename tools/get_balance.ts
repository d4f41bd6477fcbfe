import { z } from "zod";
import { moneyView } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { money } from "./views.js";

export const getBalance = defineTool({
  name: "get_balance",
  title: "Get the account balance",
  description:
    "Shows the Stripe account's balance per currency: available (can be paid out) and pending. Amounts are integers in the currency's smallest unit with a display string. Account-level: it shows no customer data.",
  input: z.object({}).strict(),
  output: z.object({ available: z.array(moneyView), pending: z.array(moneyView) }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "account",
  permissions: { balance: "read" },
  ruleParams: [],
  async resolve() {
    return { customer: null, data: undefined };
  },
  async handle(ctx) {
    const balance = await ctx.stripe.balance.retrieve({}, ctx.requestOptions);
    const available = balance.available.map((b) => money(b.amount, b.currency));
    const pending = balance.pending.map((b) => money(b.amount, b.currency));
    return {
      output: { available, pending },
      text: `Available: ${available.map((m) => m.display).join(", ") || "nothing"}; pending: ${pending.map((m) => m.display).join(", ") || "nothing"}.`,
    };
  },
});
