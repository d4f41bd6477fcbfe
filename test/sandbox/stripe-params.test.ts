import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROUTES } from "../../src/sandbox/routes.js";

/**
 * The installed `stripe` package's params types are the authority on what each endpoint
 * accepts: the sandbox takes no parameter Stripe does not (so spendguard cannot come to
 * depend on one), and takes `metadata` exactly where Stripe does.
 */
const STRIPE_PARAMS: Record<string, string> = {
  "POST /v1/customers": "Customers.CustomerCreateParams",
  "GET /v1/customers": "Customers.CustomerListParams",
  "GET /v1/customers/:id": "Customers.CustomerRetrieveParams",
  "POST /v1/customers/:id": "Customers.CustomerUpdateParams",
  "POST /v1/charges": "Charges.ChargeCreateParams",
  "GET /v1/charges": "Charges.ChargeListParams",
  "GET /v1/charges/:id": "Charges.ChargeRetrieveParams",
  "POST /v1/payment_intents": "PaymentIntents.PaymentIntentCreateParams",
  "GET /v1/payment_intents": "PaymentIntents.PaymentIntentListParams",
  "GET /v1/payment_intents/:id": "PaymentIntents.PaymentIntentRetrieveParams",
  "POST /v1/payment_intents/:id/capture": "PaymentIntents.PaymentIntentCaptureParams",
  "POST /v1/refunds": "Refunds.RefundCreateParams",
  "GET /v1/refunds": "Refunds.RefundListParams",
  "GET /v1/refunds/:id": "Refunds.RefundRetrieveParams",
  "GET /v1/subscriptions": "Subscriptions.SubscriptionListParams",
  "GET /v1/subscriptions/:id": "Subscriptions.SubscriptionRetrieveParams",
  "POST /v1/subscriptions/:id": "Subscriptions.SubscriptionUpdateParams",
  "DELETE /v1/subscriptions/:id": "Subscriptions.SubscriptionCancelParams",
  "GET /v1/invoices": "Invoices.InvoiceListParams",
  "GET /v1/invoices/:id": "Invoices.InvoiceRetrieveParams",
  "POST /v1/invoices/:id": "Invoices.InvoiceUpdateParams",
  "POST /v1/invoices/:id/pay": "Invoices.InvoicePayParams",
  "GET /v1/disputes": "Disputes.DisputeListParams",
  "GET /v1/disputes/:id": "Disputes.DisputeRetrieveParams",
  "POST /v1/disputes/:id": "Disputes.DisputeUpdateParams",
  "GET /v1/balance": "Balance.BalanceRetrieveParams",
  "GET /v1/products/:id": "Products.ProductRetrieveParams",
  "GET /v1/prices/:id": "Prices.PriceRetrieveParams",
  "GET /v1/payment_methods/:id": "PaymentMethods.PaymentMethodRetrieveParams",
};

/** Where the installed package keeps its `.d.ts` files: beside the entry point. */
const typesDir = dirname(createRequire(import.meta.url).resolve("stripe"));

/** Every interface declared in the given files, by name. */
function interfacesIn(files: string[]): Map<string, ts.InterfaceDeclaration> {
  const found = new Map<string, ts.InterfaceDeclaration>();
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      if (ts.isInterfaceDeclaration(statement)) found.set(statement.name.text, statement);
    }
  }
  return found;
}

/** The top-level parameter names of `Resource.ParamsInterface`, inherited ones included. */
function stripeParams(qualified: string): Set<string> {
  const [resource, name] = qualified.split(".") as [string, string];
  const interfaces = interfacesIn([
    join(typesDir, "resources", `${resource}.d.ts`),
    join(typesDir, "shared.d.ts"),
  ]);
  const names = new Set<string>();
  const collect = (interfaceName: string) => {
    const declaration = interfaces.get(interfaceName);
    if (!declaration)
      throw new Error(`no interface ${interfaceName} in stripe's ${resource} types`);
    for (const member of declaration.members) {
      if (member.name && ts.isIdentifier(member.name)) names.add(member.name.text);
    }
    for (const clause of declaration.heritageClauses ?? []) {
      for (const type of clause.types) {
        if (!ts.isIdentifier(type.expression))
          throw new Error(`${interfaceName}: unexpected heritage`);
        collect(type.expression.text);
      }
    }
  };
  collect(name);
  return names;
}

describe("the sandbox's parameters against stripe's own types", () => {
  it("knows the Stripe params type of every route", () => {
    const routes = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(routes.filter((route) => STRIPE_PARAMS[route] === undefined)).toEqual([]);
    expect(Object.keys(STRIPE_PARAMS).filter((route) => !routes.includes(route))).toEqual([]);
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r.params] as const))(
    "%s takes only what Stripe takes, and metadata exactly where Stripe does",
    (route, params) => {
      const stripe = stripeParams(STRIPE_PARAMS[route] as string);
      expect(stripe.has("expand")).toBe(true);
      expect(params.filter((param) => !stripe.has(param))).toEqual([]);
      expect(params.includes("metadata")).toBe(stripe.has("metadata"));
    },
  );
});
