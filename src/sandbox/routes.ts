import { type Access, permissionName, type SandboxResource } from "./permissions.js";
import { balanceRoutes } from "./resources/balance.js";
import { cardRoutes } from "./resources/cards.js";
import { catalogRoutes } from "./resources/catalog.js";
import { chargeRoutes } from "./resources/charges.js";
import { customerRoutes } from "./resources/customers.js";
import { disputeRoutes } from "./resources/disputes.js";
import { invoiceRoutes } from "./resources/invoices.js";
import { paymentIntentRoutes } from "./resources/payment-intents.js";
import { refundRoutes } from "./resources/refunds.js";
import { subscriptionRoutes } from "./resources/subscriptions.js";
import type { Route } from "./route.js";

/** Every endpoint the sandbox answers. */
export const ROUTES: readonly Route[] = [
  ...customerRoutes,
  ...chargeRoutes,
  ...paymentIntentRoutes,
  ...refundRoutes,
  ...subscriptionRoutes,
  ...invoiceRoutes,
  ...disputeRoutes,
  ...balanceRoutes,
  ...catalogRoutes,
  ...cardRoutes,
];

export interface EndpointPermission {
  method: string;
  path: string;
  resource: SandboxResource;
  access: Access;
  /** How Stripe's 403 names it: `rak_refund_write`. */
  permission: string;
}

/** The permission each endpoint requires of a restricted key. */
export const ENDPOINT_PERMISSIONS: readonly EndpointPermission[] = ROUTES.map(
  ({ method, path, permission }) => ({
    method,
    path,
    ...permission,
    permission: permissionName(permission),
  }),
);
