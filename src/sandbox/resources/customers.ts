import { createHash } from "node:crypto";
import { invalidRequest } from "../errors.js";
import type { JsonObject } from "../json.js";
import { LIST_PARAMS, listPage, readPage } from "../list.js";
import { applyMetadata, type Params } from "../params.js";
import type { OperationContext, Route } from "../route.js";
import type { Address, CustomerRecord, Metadata, Store } from "../store.js";
import { sourceFromToken } from "./cards.js";

const ADDRESS_KEYS = ["city", "country", "line1", "line2", "postal_code", "state"] as const;
const WRITABLE = ["email", "name", "phone", "description", "address", "metadata", "source"];

export interface CustomerInput {
  id?: string;
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  description?: string | null;
  address?: Address | null;
  metadata?: Metadata;
  /** A test token (`tok_visa`) to attach as the default source. */
  source?: string;
}

export function createCustomer(ctx: OperationContext, input: CustomerInput): CustomerRecord {
  const id = input.id ?? ctx.newId("cus");
  const name = input.name ?? null;
  // The card is checked first: a declined card means no customer at all, as at Stripe.
  const source = input.source ? sourceFromToken(ctx, input.source, id, name) : null;
  return ctx.store.customers.insert({
    id,
    account: ctx.account,
    created: ctx.now,
    email: input.email ?? null,
    name,
    phone: input.phone ?? null,
    description: input.description ?? null,
    address: input.address ?? null,
    metadata: input.metadata ?? {},
    defaultSource: source?.id ?? null,
    invoicePrefix: createHash("sha256").update(id).digest("hex").slice(0, 8).toUpperCase(),
  });
}

/** An address as Stripe returns it: every field present, null when not given. */
function fullAddress(
  fields: Partial<Record<(typeof ADDRESS_KEYS)[number], string | null>>,
): Address {
  return {
    city: fields.city ?? null,
    country: fields.country ?? null,
    line1: fields.line1 ?? null,
    line2: fields.line2 ?? null,
    postal_code: fields.postal_code ?? null,
    state: fields.state ?? null,
  };
}

function readWritable(params: Params) {
  const email = params.nullableString("email");
  if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, {
      code: "email_invalid",
      param: "email",
    });
  }
  const address = params.fields("address", ADDRESS_KEYS);
  return {
    email,
    name: params.nullableString("name"),
    phone: params.nullableString("phone"),
    description: params.nullableString("description"),
    address: address ? fullAddress(address) : address,
    metadata: params.metadata(),
    source: params.string("source"),
  };
}

export function renderCustomer(store: Store, customer: CustomerRecord): JsonObject {
  const invoices = store.invoices.all(customer.account).filter((i) => i.customer === customer.id);
  return {
    id: customer.id,
    object: "customer",
    address: customer.address ? { ...customer.address } : null,
    balance: 0,
    created: customer.created,
    currency: invoices[0]?.currency ?? null,
    default_source: customer.defaultSource,
    // Stripe flags a customer whose latest invoice failed to be paid.
    delinquent:
      invoices[0] !== undefined && invoices[0].status === "open" && invoices[0].attemptCount > 0,
    description: customer.description,
    discount: null,
    email: customer.email,
    invoice_prefix: customer.invoicePrefix,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: { ...customer.metadata },
    name: customer.name,
    next_invoice_sequence: invoices.filter((i) => i.number !== null).length + 1,
    phone: customer.phone,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
}

export const customerRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/customers",
    permission: { resource: "customers", access: "write" },
    returns: "customer",
    params: WRITABLE,
    validate(req) {
      const input = readWritable(req.params);
      return () =>
        renderCustomer(
          req.store,
          createCustomer(req, { ...input, metadata: applyMetadata({}, input.metadata) }),
        );
    },
  },
  {
    method: "GET",
    path: "/v1/customers",
    permission: { resource: "customers", access: "read" },
    returns: { list: "customer" },
    params: [...LIST_PARAMS, "email"],
    validate(req) {
      const page = readPage(req.params);
      const email = req.params.string("email");
      return () =>
        listPage({
          account: req.account,
          collection: req.store.customers,
          matching: (c) => email === undefined || c.email === email,
          page,
          url: "/v1/customers",
          render: (c) => renderCustomer(req.store, c),
        });
    },
  },
  {
    method: "GET",
    path: "/v1/customers/:id",
    permission: { resource: "customers", access: "read" },
    returns: "customer",
    params: [],
    validate: (req) => () =>
      renderCustomer(req.store, req.store.customers.require(req.account, req.id)),
  },
  {
    method: "POST",
    path: "/v1/customers/:id",
    permission: { resource: "customers", access: "write" },
    returns: "customer",
    params: WRITABLE,
    validate(req) {
      const input = readWritable(req.params);
      return () => {
        const customer = req.store.customers.require(req.account, req.id);
        if (input.source !== undefined) {
          const card = sourceFromToken(req, input.source, customer.id, input.name ?? customer.name);
          // A new source replaces the default one, which leaves the customer (Stripe deletes it).
          const previous =
            customer.defaultSource && req.store.sources.get(req.account, customer.defaultSource);
          if (previous) previous.customer = null;
          customer.defaultSource = card.id;
        }
        if (input.email !== undefined) customer.email = input.email;
        if (input.name !== undefined) customer.name = input.name;
        if (input.phone !== undefined) customer.phone = input.phone;
        if (input.description !== undefined) customer.description = input.description;
        if (input.address !== undefined) customer.address = input.address;
        customer.metadata = applyMetadata(customer.metadata, input.metadata);
        return renderCustomer(req.store, customer);
      };
    },
  },
];
