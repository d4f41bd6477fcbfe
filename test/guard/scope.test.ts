import { describe, expect, it } from "vitest";
import { customerScopeSchema } from "../../src/policy/schema.js";
import { checkCustomerScope, inScope } from "../../src/policy/scope.js";
import { customer } from "./fixtures/tools.js";

const scope = (input: unknown) => customerScopeSchema.parse(input);
const ann = customer("cus_ann", "acme", "ann@Acme.com");
const bob = customer("cus_bob", "globex", "bob@globex.com");
const noEmail = customer("cus_noemail", "acme", null);

describe("customer scope", () => {
  it("`all` lets every customer through, and objects with no customer", () => {
    expect(inScope("all", ann)).toBe(true);
    expect(inScope("all", null)).toBe(true);
  });

  it("an id allowlist", () => {
    const ids = scope({ ids: ["cus_ann"] });
    expect(inScope(ids, ann)).toBe(true);
    expect(inScope(ids, bob)).toBe(false);
  });

  it("a metadata match needs every key to match", () => {
    expect(inScope(scope({ metadata: { tenant: "acme" } }), ann)).toBe(true);
    expect(inScope(scope({ metadata: { tenant: "acme" } }), bob)).toBe(false);
    expect(inScope(scope({ metadata: { tenant: "acme", tier: "gold" } }), ann)).toBe(false);
    const gold = { ...ann, metadata: { tenant: "acme", tier: "gold" } };
    expect(inScope(scope({ metadata: { tenant: "acme", tier: "gold" } }), gold)).toBe(true);
  });

  it("an email domain, case-insensitively, exactly (no suffix tricks)", () => {
    const domains = scope({ email_domains: ["acme.com"] });
    expect(inScope(domains, ann)).toBe(true);
    expect(inScope(domains, bob)).toBe(false);
    expect(inScope(domains, noEmail)).toBe(false);
    expect(inScope(domains, { ...ann, email: "eve@notacme.com" })).toBe(false);
    expect(inScope(domains, { ...ann, email: "eve@acme.com.evil.test" })).toBe(false);
  });

  it("several criteria must all hold", () => {
    const both = scope({ ids: ["cus_ann", "cus_bob"], metadata: { tenant: "acme" } });
    expect(inScope(both, ann)).toBe(true);
    expect(inScope(both, bob)).toBe(false); // listed, but not tenant acme
    const withDomain = scope({ metadata: { tenant: "acme" }, email_domains: ["acme.com"] });
    expect(inScope(withDomain, noEmail)).toBe(false);
  });

  it("objects with no customer are out unless allow_no_customer", () => {
    expect(inScope(scope({ metadata: { tenant: "acme" } }), null)).toBe(false);
    expect(inScope(scope({ metadata: { tenant: "acme" }, allow_no_customer: true }), null)).toBe(
      true,
    );
  });

  it("a refusal names no detail of the refused customer", () => {
    const decision = checkCustomerScope(
      scope({ metadata: { tenant: "acme" } }),
      "lookup_charge",
      bob,
    );
    expect(decision?.code).toBe("customer_out_of_scope");
    for (const detail of ["cus_bob", "globex", "bob@"])
      expect(decision?.reason).not.toContain(detail);
    expect(
      checkCustomerScope(scope({ metadata: { tenant: "acme" } }), "lookup_charge", ann),
    ).toBeUndefined();
  });
});
