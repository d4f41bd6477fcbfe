import type Stripe from "stripe";
import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, requestIdOf, stampedBy, stampOf, type ToolResult } from "./tool.js";
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
    // Paying takes no metadata: the invoice is stamped first, so the payment can be told apart.
    await ctx.stripe.invoices.update(
      args.invoice,
      { metadata: stampOf(ctx) },
      { ...ctx.requestOptions, idempotencyKey: stampKey(ctx.idempotencyKey) },
    );
    const invoice = await ctx.stripe.invoices.pay(
      args.invoice,
      {},
      { ...ctx.requestOptions, idempotencyKey: ctx.idempotencyKey },
    );
    return invoiceResult(invoice);
  },
  async findOutcome(ctx, args, admission) {
    const invoice = await ctx.stripe.invoices.retrieve(args.invoice, {}, ctx.requestOptions);
    if (invoice.status !== "paid") {
      return { applied: "no", why: `invoice ${invoice.id} is ${invoice.status}, not paid` };
    }
    if (stampedBy(invoice, admission)) return { applied: "yes", result: invoiceResult(invoice) };
    return {
      applied: "unknown",
      why: `invoice ${invoice.id} is paid, but not stamped by this admission`,
    };
  },
});

function invoiceResult(invoice: Stripe.Invoice): ToolResult<ReturnType<typeof viewInvoice>> {
  const output = viewInvoice(invoice);
  return {
    output,
    text: `Invoice ${output.id} is ${output.status}: ${output.amount_paid.display} paid, ${output.amount_remaining.display} remaining.`,
    // Over-counting is safe, under-counting is not: a replay after an earlier partial payment reports the total paid.
    moved: { amount: invoice.amount_paid, currency: invoice.currency },
    stripeRequestId: requestIdOf(invoice),
  };
}

/** The stamping request's own key: a key belongs to one endpoint. */
function stampKey(key: string | undefined): string | undefined {
  return key && `${key}.stamp`;
}
