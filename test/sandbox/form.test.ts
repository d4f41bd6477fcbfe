import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type FormObject,
  type FormValue,
  MalformedFormError,
  parseForm,
} from "../../src/sandbox/form.js";

/** Encodes like the stripe SDK does: nested keys in brackets, arrays with indexes. */
function encode(data: FormObject): string {
  const pairs: string[] = [];
  const walk = (key: string, value: FormValue) => {
    if (typeof value === "string") {
      pairs.push(
        `${encodeURIComponent(key).replace(/%5B/g, "[").replace(/%5D/g, "]")}=${encodeURIComponent(value)}`,
      );
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        walk(`${key}[${i}]`, item);
      });
    } else {
      for (const [k, v] of Object.entries(value)) walk(`${key}[${k}]`, v);
    }
  };
  for (const [k, v] of Object.entries(data)) walk(k, v);
  return pairs.join("&");
}

const plain = (value: unknown) => JSON.parse(JSON.stringify(value));

describe("parseForm", () => {
  it("reads Stripe's bracket notation", () => {
    const form = parseForm(
      "amount=2000&metadata[tier]=gold&expand[]=customer&expand[]=charge&evidence[customer_name]=Jane+Doe&created[gte]=1700000000&items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2",
    );
    expect(plain(form)).toEqual({
      amount: "2000",
      metadata: { tier: "gold" },
      expand: ["customer", "charge"],
      evidence: { customer_name: "Jane Doe" },
      created: { gte: "1700000000" },
      items: [{ price: "price_1", quantity: "2" }, { price: "price_2" }],
    });
  });

  it("takes indexed arrays in index order and drops holes", () => {
    expect(plain(parseForm("expand[1]=b&expand[0]=a&expand[5]=c"))).toEqual({
      expand: ["a", "b", "c"],
    });
  });

  it("decodes percent-encoding, encoded brackets and +", () => {
    expect(plain(parseForm("metadata%5Bnote%5D=50%25+off&description=caf%C3%A9"))).toEqual({
      metadata: { note: "50% off" },
      description: "café",
    });
  });

  it("keeps empty values (Stripe's way of unsetting) and the last of repeated keys", () => {
    expect(plain(parseForm("description=&metadata[a]=&name=x&name=y"))).toEqual({
      description: "",
      metadata: { a: "" },
      name: "y",
    });
  });

  it("does not let a key reach Object.prototype", () => {
    const form = parseForm("__proto__[polluted]=yes&constructor[prototype][x]=1");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(form)).toEqual(["__proto__", "constructor"]);
  });

  it.each([
    ["unbalanced brackets", "metadata[a=1"],
    ["a key that is only brackets", "[a]=1"],
    ["bad percent-encoding", "a=%E0%A4%A"],
    ["a value and a structure under one name", "metadata=x&metadata[a]=1"],
    ["an object and a list under one name", "expand[]=a&expand[x]=b"],
    ["too deep", "a[b][c][d][e][f][g][h][i]=1"],
    ["a huge index", "expand[99999]=a"],
  ])("refuses %s", (_what, text) => {
    expect(() => parseForm(text)).toThrow(MalformedFormError);
  });

  it("reads back whatever the SDK's encoding produces", () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
    const text = fc.string({ maxLength: 12 }).filter((s) => s !== "");
    const value: fc.Arbitrary<FormValue> = fc.letrec<{ value: FormValue }>((tie) => ({
      // At most 7 levels under a top-level key: the sandbox refuses deeper nesting (8), as
      // the "too deep" case above checks.
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true, maxDepth: 6 },
        text,
        fc.array(tie("value"), { minLength: 1, maxLength: 3 }),
        fc.dictionary(key, tie("value"), { minKeys: 1, maxKeys: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 4 }), (data) => {
        expect(plain(parseForm(encode(data)))).toEqual(plain(data));
      }),
      { numRuns: 300 },
    );
  });
});
