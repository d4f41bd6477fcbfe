import type { JsonObject } from "../json.js";
import type { Route } from "../route.js";
import type { PriceRecord, ProductRecord, Store } from "../store.js";

/** Products and their recurring prices: what subscription items point at. */

export function renderProduct(store: Store, product: ProductRecord): JsonObject {
  const defaultPrice = store.prices.all(product.account).findLast((p) => p.product === product.id);
  return {
    id: product.id,
    object: "product",
    active: true,
    created: product.created,
    default_price: defaultPrice?.id ?? null,
    description: product.description,
    images: [],
    livemode: false,
    marketing_features: [],
    metadata: { ...product.metadata },
    name: product.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    type: "service",
    unit_label: null,
    updated: product.created,
    url: null,
  };
}

export function renderPrice(_store: Store, price: PriceRecord): JsonObject {
  return {
    id: price.id,
    object: "price",
    active: true,
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: null,
    metadata: { ...price.metadata },
    nickname: price.nickname,
    product: price.product,
    recurring: {
      interval: price.interval,
      interval_count: price.intervalCount,
      meter: null,
      trial_period_days: null,
      usage_type: "licensed",
    },
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: "recurring",
    unit_amount: price.unitAmount,
    unit_amount_decimal: String(price.unitAmount),
  };
}

/** The legacy `plan` Stripe still puts beside `price` on a subscription item. */
export function renderPlan(price: PriceRecord): JsonObject {
  return {
    id: price.id,
    object: "plan",
    active: true,
    amount: price.unitAmount,
    amount_decimal: String(price.unitAmount),
    billing_scheme: "per_unit",
    created: price.created,
    currency: price.currency,
    interval: price.interval,
    interval_count: price.intervalCount,
    livemode: false,
    metadata: { ...price.metadata },
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: "licensed",
  };
}

export const catalogRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/products/:id",
    permission: { resource: "products", access: "read" },
    returns: "product",
    params: [],
    validate: (req) => () =>
      renderProduct(req.store, req.store.products.require(req.account, req.id)),
  },
  {
    method: "GET",
    path: "/v1/prices/:id",
    permission: { resource: "prices", access: "read" },
    returns: "price",
    params: [],
    validate: (req) => () => renderPrice(req.store, req.store.prices.require(req.account, req.id)),
  },
];
