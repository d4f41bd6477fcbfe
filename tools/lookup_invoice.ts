import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { invoiceView, viewInvoice } from "./views.js";

export const lookupInvoice = defineTool({
  name: "lookup_invoice",
  title: "Look up an invoice",
  description:
    "Shows one Stripe invoice: status (draft, open, paid, uncollectible, void), amounts due, paid and remaining, payment attempts and due date. Amounts are integers in the currency's smallest unit with a display string. Refused for a customer outside this session's scope.",
  input: z.object({ invoice: ids.invoice }).strict(),
  output: invoiceView,
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { invoices: "read", customers: "read" },
  ruleParams: ["invoice"],
  async resolve(ctx, args) {
    const invoice = await ctx.stripe.invoices.retrieve(
      args.invoice,
      { expand: ["customer"] },
      ctx.requestOptions,
    );
    return { customer: await customerFacts(ctx, invoice.customer), data: invoice };
  },
  async handle(_ctx, _args, resolved) {
    const output = viewInvoice(resolved.data);
    return {
      output,
      text: `Invoice ${output.id}: ${output.status}, ${output.amount_remaining.display} remaining of ${output.amount_due.display}.`,
    };
  },
});
