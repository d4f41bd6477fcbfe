import { z } from "zod";
import { customerFacts } from "./customer-facts.js";
import { ids, listLimit } from "./schemas.js";
import { defineTool, READ_ANNOTATIONS } from "./tool.js";
import { invoiceView, viewInvoice } from "./views.js";

export const listInvoices = defineTool({
  name: "list_invoices",
  title: "List a customer's invoices",
  description:
    "Lists one customer's invoices, newest first, with status and amounts due, paid and remaining. `status` filters (draft, open, paid, uncollectible, void). Refused for a customer outside this session's scope.",
  input: z
    .object({
      customer: ids.customer,
      status: z
        .enum(["draft", "open", "paid", "uncollectible", "void"])
        .optional()
        .describe("Only invoices in this status."),
      limit: listLimit,
    })
    .strict(),
  output: z.object({ invoices: z.array(invoiceView), has_more: z.boolean() }),
  annotations: READ_ANNOTATIONS,
  kind: "read",
  scope: "customer",
  permissions: { invoices: "read", customers: "read" },
  ruleParams: ["customer", "status"],
  async resolve(ctx, args) {
    return { customer: await customerFacts(ctx, args.customer), data: undefined };
  },
  async handle(ctx, args) {
    const page = await ctx.stripe.invoices.list(
      {
        customer: args.customer,
        limit: args.limit,
        ...(args.status ? { status: args.status } : {}),
      },
      ctx.requestOptions,
    );
    const invoices = page.data.map(viewInvoice);
    return {
      output: { invoices, has_more: page.has_more },
      text: `${invoices.length} invoice(s) for ${args.customer}.`,
    };
  },
});
