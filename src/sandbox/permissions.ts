/**
 * Restricted-key permissions as Stripe names them: a resource (plural, as in the
 * Dashboard's key editor) with `read` or `write`, write implying read. A refusal names
 * the singular permission (`rak_refund_write`).
 */

export const SANDBOX_RESOURCES = [
  "charges",
  "refunds",
  "customers",
  "payment_intents",
  "subscriptions",
  "invoices",
  "disputes",
  "balance",
  "files",
  "products",
  "prices",
  "payment_methods",
] as const;

export type SandboxResource = (typeof SANDBOX_RESOURCES)[number];
export type Access = "read" | "write";
export type PermissionMap = Partial<Record<SandboxResource, Access>>;

/** What one endpoint (or one expansion) needs. */
export interface Permission {
  resource: SandboxResource;
  access: Access;
}

const SINGULAR: Record<SandboxResource, string> = {
  charges: "charge",
  refunds: "refund",
  customers: "customer",
  payment_intents: "payment_intent",
  subscriptions: "subscription",
  invoices: "invoice",
  disputes: "dispute",
  balance: "balance",
  files: "file",
  products: "product",
  prices: "price",
  payment_methods: "payment_method",
};

/** `rak_refund_write`: the name Stripe's 403 message gives the missing permission. */
export function permissionName({ resource, access }: Permission): string {
  return `rak_${SINGULAR[resource]}_${access}`;
}

/** `"all"` for a standard secret key; otherwise the restricted key's grants. */
export type Grants = PermissionMap | "all";

export function allows(grants: Grants, { resource, access }: Permission): boolean {
  if (grants === "all") return true;
  const granted = grants[resource];
  return granted === "write" || (granted === "read" && access === "read");
}
