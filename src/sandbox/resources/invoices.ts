import { invalidRequest } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listObject, listPage, readPage } from "../list.js";
import { applyMetadata } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { CardRecord, InvoiceRecord, InvoiceStatus, Metadata, Store } from "../store.js";
import { cardDeclined, paymentMethodFor } from "./cards.js";
import { recordCharge } from "./charges.js";

const STATUSES: readonly InvoiceStatus[] = ["draft", "open", "paid", "uncollectible", "void"];

export interface InvoiceInput {
  id?: string;
  customer: string;
  subscription?: string | null;
  status: InvoiceStatus;
  currency: string;
  lines: {
    description: string;
    amount: number;
    quantity?: number;
    price?: string | null;
    periodStart: number;
    periodEnd: number;
  }[];
  description?: string | null;
  dueDate?: number | null;
  metadata?: Metadata;
  /** Set for an invoice seeded as already paid. */
  charge?: string | null;
}

export function createInvoice(ctx: OperationContext, input: InvoiceInput): InvoiceRecord {
  ctx.store.customers.require(ctx.account, input.customer, "customer");
  const invoice = ctx.store.invoices.insert({
    id: input.id ?? ctx.newId("in"),
    account: ctx.account,
    created: ctx.now,
    customer: input.customer,
    subscription: input.subscription ?? null,
    status: "draft",
    currency: input.currency,
    lines: input.lines.map((line) => ({
      id: ctx.newId("il"),
      amount: line.amount,
      description: line.description,
      quantity: line.quantity ?? 1,
      price: line.price ?? null,
      periodStart: line.periodStart,
      periodEnd: line.periodEnd,
    })),
    number: null,
    description: input.description ?? null,
    dueDate: input.dueDate ?? null,
    periodStart: Math.min(...input.lines.map((l) => l.periodStart)),
    periodEnd: Math.max(...input.lines.map((l) => l.periodEnd)),
    attemptCount: 0,
    finalizedAt: null,
    paidAt: null,
    charge: null,
    metadata: input.metadata ?? {},
  });
  if (input.status !== "draft") finalize(ctx, invoice);
  if (input.status === "paid") markPaid(ctx, invoice, input.charge ?? null);
  else invoice.status = input.status;
  return invoice;
}

/** A draft becomes `open` and gets its number (`PREFIX-0001`), as at Stripe. */
function finalize(ctx: OperationContext, invoice: InvoiceRecord): void {
  const customer = ctx.store.customers.require(ctx.account, invoice.customer);
  const numbered = ctx.store.invoices
    .all(ctx.account)
    .filter((i) => i.customer === invoice.customer && i.number !== null).length;
  invoice.number = `${customer.invoicePrefix}-${String(numbered + 1).padStart(4, "0")}`;
  invoice.finalizedAt = ctx.now;
  invoice.status = "open";
}

function markPaid(ctx: OperationContext, invoice: InvoiceRecord, charge: string | null): void {
  invoice.status = "paid";
  invoice.paidAt = ctx.now;
  invoice.charge = charge;
}

function amountDue(invoice: InvoiceRecord): number {
  return invoice.lines.reduce((sum, line) => sum + line.amount, 0);
}

/** The card an invoice payment uses: the one named, else the customer's default source. */
function paymentCard(
  ctx: OperationContext,
  invoice: InvoiceRecord,
  paymentMethod?: string,
  source?: string,
): CardRecord {
  if (paymentMethod !== undefined) return paymentMethodFor(ctx, paymentMethod, invoice.customer);
  const customer = ctx.store.customers.require(ctx.account, invoice.customer);
  const cardId = source ?? customer.defaultSource;
  const card = cardId ? ctx.store.sources.get(ctx.account, cardId) : undefined;
  if (source !== undefined && card?.customer !== customer.id) {
    throw invalidRequest(
      `Customer ${customer.id} does not have a linked source with ID ${source}.`,
      {
        status: 404,
        code: "missing",
        param: "source",
      },
    );
  }
  if (!card) {
    throw invalidRequest(
      "This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.",
    );
  }
  return card;
}

export function renderInvoice(store: Store, invoice: InvoiceRecord): JsonObject {
  const customer = store.customers.get(invoice.account, invoice.customer);
  const due = amountDue(invoice);
  const paid = invoice.status === "paid" ? due : 0;
  const finalized = invoice.finalizedAt !== null;
  const hostedUrl = `https://invoice.stripe.com/i/${invoice.account}/${invoice.id}`;
  const lines = invoice.lines.map((line) => {
    const price = line.price ? store.prices.get(invoice.account, line.price) : undefined;
    return {
      id: line.id,
      object: "line_item",
      amount: line.amount,
      currency: invoice.currency,
      description: line.description,
      discount_amounts: [],
      discountable: true,
      discounts: [],
      invoice: invoice.id,
      livemode: false,
      metadata: {},
      parent: null,
      period: { end: line.periodEnd, start: line.periodStart },
      pretax_credit_amounts: [],
      pricing: price
        ? {
            price_details: { price: price.id, product: price.product },
            type: "price_details",
            unit_amount_decimal: String(price.unitAmount),
          }
        : null,
      quantity: line.quantity,
      subscription: invoice.subscription,
      subtotal: line.amount,
      taxes: [],
    };
  });
  return {
    id: invoice.id,
    object: "invoice",
    account_country: "US",
    account_name: "Spendguard Sandbox",
    account_tax_ids: null,
    amount_due: due,
    amount_overpaid: 0,
    amount_paid: paid,
    amount_remaining: due - paid,
    amount_shipping: 0,
    application: null,
    attempt_count: invoice.attemptCount,
    attempted: invoice.attemptCount > 0 || invoice.status === "paid",
    auto_advance: invoice.status === "draft" || invoice.status === "open",
    automatic_tax: {
      disabled_reason: null,
      enabled: false,
      liability: null,
      provider: null,
      status: null,
    },
    automatically_finalizes_at: null,
    billing_reason: invoice.subscription ? "subscription_cycle" : "manual",
    collection_method: "charge_automatically",
    created: invoice.created,
    currency: invoice.currency,
    custom_fields: null,
    customer: invoice.customer,
    customer_account: null,
    customer_address: customer?.address ? { ...customer.address } : null,
    customer_email: customer?.email ?? null,
    customer_name: customer?.name ?? null,
    customer_phone: customer?.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: "none",
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: invoice.description,
    discounts: [],
    due_date: invoice.dueDate,
    effective_at: invoice.finalizedAt,
    ending_balance: finalized ? 0 : null,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: finalized ? hostedUrl : null,
    invoice_pdf: finalized ? `${hostedUrl}/pdf` : null,
    issuer: { type: "self" },
    last_finalization_error: null,
    latest_revision: null,
    lines: listObject(lines, false, `/v1/invoices/${invoice.id}/lines`),
    livemode: false,
    metadata: { ...invoice.metadata },
    next_payment_attempt: invoice.status === "open" ? invoice.created + 3600 : null,
    number: invoice.number,
    on_behalf_of: null,
    parent: invoice.subscription
      ? {
          quote_details: null,
          subscription_details: { metadata: {}, subscription: invoice.subscription },
          type: "subscription_details",
        }
      : null,
    payment_settings: {
      default_mandate: null,
      payment_method_options: null,
      payment_method_types: null,
    },
    period_end: invoice.periodEnd,
    period_start: invoice.periodStart,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: invoice.status,
    status_transitions: {
      finalized_at: invoice.finalizedAt,
      marked_uncollectible_at: null,
      paid_at: invoice.paidAt,
      voided_at: null,
    },
    subscription: invoice.subscription,
    subtotal: due,
    subtotal_excluding_tax: due,
    test_clock: null,
    total: due,
    total_discount_amounts: [],
    total_excluding_tax: due,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: invoice.created,
  };
}

export const invoiceRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/invoices",
    permission: { resource: "invoices", access: "read" },
    returns: { list: "invoice" },
    params: [...LIST_PARAMS, "customer", "status", "subscription"],
    validate(req) {
      const page = readPage(req.params);
      const customer = req.params.string("customer");
      const status = req.params.choice("status", STATUSES);
      const subscription = req.params.string("subscription");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.invoices,
          matching: (i) =>
            (customer === undefined || i.customer === customer) &&
            (status === undefined || i.status === status) &&
            (subscription === undefined || i.subscription === subscription),
          page,
          url: "/v1/invoices",
          render: (i) => renderInvoice(req.store, i),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/invoices/:id",
    permission: { resource: "invoices", access: "read" },
    returns: "invoice",
    params: [],
    validate: (req) => () =>
      renderInvoice(req.store, req.store.invoices.require(req.account, req.id)),
  },
  {
    method: "POST",
    path: "/v1/invoices/:id",
    permission: { resource: "invoices", access: "write" },
    returns: "invoice",
    params: ["description", "metadata"],
    validate(req) {
      const description = req.params.nullableString("description");
      const metadata = req.params.metadata();
      return () => {
        const invoice = req.store.invoices.require(req.account, req.id);
        // Stripe lets metadata change on an invoice of any status; the rest only on drafts.
        if (description !== undefined && invoice.status !== "draft") {
          throw invalidRequest(
            `You can only update the description of a draft invoice. This invoice is ${invoice.status}.`,
            { code: "invoice_not_editable", param: "description" },
          );
        }
        if (description !== undefined) invoice.description = description;
        invoice.metadata = applyMetadata(invoice.metadata, metadata);
        return renderInvoice(req.store, invoice);
      };
    },
  },
  {
    method: "POST",
    path: "/v1/invoices/:id/pay",
    permission: { resource: "invoices", access: "write" },
    returns: "invoice",
    params: ["paid_out_of_band", "payment_method", "source", "off_session", "forgive"],
    validate(req) {
      const { params } = req;
      const outOfBand = params.boolean("paid_out_of_band") ?? false;
      const paymentMethod = params.string("payment_method");
      const source = params.string("source");
      // Accepted as Stripe does; with no customer present and no partial payments they change nothing here.
      params.boolean("off_session");
      params.boolean("forgive");
      return () => {
        const invoice = req.store.invoices.require(req.account, req.id);
        if (invoice.status === "paid") {
          throw invalidRequest("Invoice is already paid", { code: "invoice_already_paid" });
        }
        if (invoice.status === "void") {
          throw invalidRequest("This invoice can no longer be paid because it has been voided.", {
            code: "invoice_not_editable",
          });
        }
        if (invoice.status === "draft") finalize(req, invoice);
        if (outOfBand || amountDue(invoice) === 0) {
          markPaid(req, invoice, null);
          return renderInvoice(req.store, invoice);
        }
        const card = paymentCard(req, invoice, paymentMethod, source);
        const charge = recordCharge(req, {
          amount: amountDue(invoice),
          currency: invoice.currency,
          customer: invoice.customer,
          card,
          description: `Payment for Invoice ${invoice.number}`,
          capture: true,
        });
        invoice.attemptCount += 1;
        if (charge.failure) throw cardDeclined(charge.failure.declineCode, { charge: charge.id });
        markPaid(req, invoice, charge.id);
        return renderInvoice(req.store, invoice);
      };
    },
  },
];
