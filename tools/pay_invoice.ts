import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool } from "./tool.js";
import { invoiceView, viewInvoice } from "./views.js";

export const payInvoice = defineTool({
  name: "pay_invoice",
  title: "Retry an invoice payment",
  description:
    "Attempts payment of an open Stripe invoice now, charging the customer's default payment method for the amount remaining (for example to retry after a failed payment). Moves money: the amount remaining counts against the spending caps. Refused for a customer outside this session's scope or over a cap; a declined card is reported as Stripe's error with nothing charged.",
  input: z.object({ invoice: ids.invoice }).strict(),
  output: invoiceView,
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: true,
  },
  kind: "write",
  scope: "customer",
  permissions: { invoices: "write", customers: "read" },
  ruleParams: ["invoice"],
  async resolve(ctx, args) {
    const invoice = await ctx.stripe.invoices.retrieve(
      args.invoice,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return {
      customer: await customerFacts(ctx, invoice.customer),
      moves: { amount: invoice.amount_remaining, currency: invoice.currency },
      data: invoice,
    };
  },
  async handle(ctx, args) {
    const invoice = await ctx.stripe.invoices.pay(
      args.invoice,
      {},
      { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey },
    );
    const output = viewInvoice(invoice);
    return {
      output,
      text: `Invoice ${output.id} is ${output.status}: ${output.amount_paid.display} paid, ${output.amount_remaining.display} remaining.`,
      // Over-counting is safe, under-counting is not: a replay after an earlier partial payment reports the total paid.
      moved: { amount: invoice.amount_paid, currency: invoice.currency },
      stripeRequestId: invoice.lastResponse.requestId,
    };
  },
});
