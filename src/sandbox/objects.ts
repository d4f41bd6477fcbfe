import type { JsonObject } from "./json.js";
import type { SandboxResource } from "./permissions.js";
import { renderCard, renderPaymentMethod } from "./resources/cards.js";
import { renderPrice, renderProduct } from "./resources/catalog.js";
import { renderCharge } from "./resources/charges.js";
import { renderCustomer } from "./resources/customers.js";
import { renderDispute } from "./resources/disputes.js";
import { renderInvoice } from "./resources/invoices.js";
import { renderPaymentIntent } from "./resources/payment-intents.js";
import { renderRefund } from "./resources/refunds.js";
import { renderSubscription } from "./resources/subscriptions.js";
import type { Store } from "./store.js";

/** Every kind of Stripe object the sandbox serves, by its `object` value. */
export type ObjectType =
  | "balance"
  | "card"
  | "charge"
  | "customer"
  | "dispute"
  | "invoice"
  | "payment_intent"
  | "payment_method"
  | "price"
  | "product"
  | "refund"
  | "subscription";

/** The fields of each object that `expand[]` can turn from an id into the object. */
export const EXPANDABLE: Record<ObjectType, Readonly<Record<string, ObjectType>>> = {
  balance: {},
  card: { customer: "customer" },
  charge: { customer: "customer", payment_intent: "payment_intent" },
  customer: { default_source: "card" },
  dispute: { charge: "charge", payment_intent: "payment_intent" },
  invoice: { customer: "customer", subscription: "subscription" },
  payment_intent: {
    customer: "customer",
    latest_charge: "charge",
    payment_method: "payment_method",
  },
  payment_method: { customer: "customer" },
  price: { product: "product" },
  product: {},
  refund: { charge: "charge", payment_intent: "payment_intent" },
  subscription: { customer: "customer", latest_invoice: "invoice" },
};

/** The permission that reading (or expanding into) an object of each kind takes. */
export const READ_RESOURCE: Record<ObjectType, SandboxResource> = {
  balance: "balance",
  card: "customers",
  charge: "charges",
  customer: "customers",
  dispute: "disputes",
  invoice: "invoices",
  payment_intent: "payment_intents",
  payment_method: "payment_methods",
  price: "prices",
  product: "products",
  refund: "refunds",
  subscription: "subscriptions",
};

/** The object with this id rendered as Stripe sends it, or undefined when the account has none. */
export function renderById(
  store: Store,
  account: string,
  type: ObjectType,
  id: string,
): JsonObject | undefined {
  const render = <T>(record: T | undefined, as: (store: Store, record: T) => JsonObject) =>
    record === undefined ? undefined : as(store, record);
  switch (type) {
    case "card":
      return render(store.sources.get(account, id), renderCard);
    case "charge":
      return render(store.charges.get(account, id), renderCharge);
    case "customer":
      return render(store.customers.get(account, id), renderCustomer);
    case "dispute":
      return render(store.disputes.get(account, id), renderDispute);
    case "invoice":
      return render(store.invoices.get(account, id), renderInvoice);
    case "payment_intent":
      return render(store.paymentIntents.get(account, id), renderPaymentIntent);
    case "payment_method":
      return render(store.paymentMethods.get(account, id), renderPaymentMethod);
    case "price":
      return render(store.prices.get(account, id), renderPrice);
    case "product":
      return render(store.products.get(account, id), renderProduct);
    case "refund":
      return render(store.refunds.get(account, id), renderRefund);
    case "subscription":
      return render(store.subscriptions.get(account, id), renderSubscription);
    case "balance":
      return undefined;
  }
}
