import type { PermissionMap } from "./permissions.js";

/**
 * The keys every sandbox accepts, whatever its seed: an admin secret key and one
 * restricted key per demo role, each with the least the role's tools need. They are
 * test-mode keys of a local sandbox, safe to publish; docs and `mcp.json` name them.
 */
export type DemoRole =
  | "support-refunds"
  | "billing-collections"
  | "subscription-manager"
  | "analytics-readonly"
  | "dispute-handler";

export const ADMIN_KEY = "sk_test_sg_sandbox_admin";

export const ROLE_KEYS: Record<DemoRole, { key: string; permissions: PermissionMap }> = {
  "support-refunds": {
    key: "rk_test_sg_support_refunds",
    permissions: { charges: "read", refunds: "write", customers: "read", payment_intents: "read" },
  },
  "billing-collections": {
    key: "rk_test_sg_billing_collections",
    permissions: {
      invoices: "write",
      payment_intents: "write",
      charges: "read",
      customers: "read",
    },
  },
  "subscription-manager": {
    key: "rk_test_sg_subscription_manager",
    permissions: { subscriptions: "write", customers: "read", invoices: "read" },
  },
  "analytics-readonly": {
    key: "rk_test_sg_analytics_readonly",
    permissions: {
      charges: "read",
      refunds: "read",
      customers: "read",
      payment_intents: "read",
      subscriptions: "read",
      invoices: "read",
      disputes: "read",
      balance: "read",
    },
  },
  "dispute-handler": {
    key: "rk_test_sg_dispute_handler",
    permissions: {
      disputes: "write",
      charges: "read",
      customers: "read",
      payment_intents: "read",
      refunds: "read",
    },
  },
};
