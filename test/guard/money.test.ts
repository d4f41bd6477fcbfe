import { describe, expect, it } from "vitest";
import {
  formatMoney,
  formatWithCap,
  fxTable,
  majorToMinor,
  minorUnitDigits,
  toCapMinor,
} from "../../src/money/currency.js";

describe("minor units", () => {
  it("come from Stripe's table, not from assuming cents", () => {
    expect(minorUnitDigits("usd")).toBe(2);
    expect(minorUnitDigits("EUR")).toBe(2);
    expect(minorUnitDigits("jpy")).toBe(0);
    expect(minorUnitDigits("krw")).toBe(0);
    expect(minorUnitDigits("ugx")).toBe(0);
    expect(minorUnitDigits("bhd")).toBe(3);
    expect(minorUnitDigits("kwd")).toBe(3);
    // Stripe keeps ISK two-decimal in its API (100 = 1 króna).
    expect(minorUnitDigits("isk")).toBe(2);
  });

  it("turn a policy's major amounts into minor units, rounding down", () => {
    expect(majorToMinor(250, "usd")).toBe(25_000);
    expect(majorToMinor(0.1, "usd")).toBe(10);
    expect(majorToMinor(19.99, "usd")).toBe(1_999);
    expect(majorToMinor(5000, "jpy")).toBe(5_000);
    expect(majorToMinor(1.25, "bhd")).toBe(1_250);
    expect(majorToMinor(0.005, "usd")).toBe(0);
    expect(() => majorToMinor(1e20, "usd")).toThrow(/too large/);
  });
});

describe("conversion into the cap currency", () => {
  const fx = fxTable("usd", { eur: 1.1, jpy: 0.0067, bhd: 2.65 });

  it("is exact on the rate as written: 1000 eur cents at 1.1 is 1100 usd cents, not 1101", () => {
    expect(toCapMinor(1_000, "eur", fx)).toBe(1_100);
    expect(toCapMinor(1_000, "EUR", fx)).toBe(1_100);
  });

  it("rounds up, never under-counting spend", () => {
    expect(toCapMinor(1, "eur", fx)).toBe(2); // 1.1 cents
    expect(toCapMinor(5_000, "jpy", fx)).toBe(3_350); // ¥5,000 × 0.0067 = $33.50
    expect(toCapMinor(1, "jpy", fx)).toBe(1); // $0.0067
    expect(toCapMinor(1_250, "bhd", fx)).toBe(332); // BHD 1.250 × 2.65 = $3.3125
    expect(toCapMinor(0, "eur", fx)).toBe(0);
  });

  it("into a zero-decimal cap currency", () => {
    const yen = fxTable("jpy", { usd: 150 });
    expect(toCapMinor(1_999, "usd", yen)).toBe(2_999); // $19.99 × 150 = ¥2,998.5 → ¥2,999
  });

  it("passes the cap currency through and refuses a currency with no rate", () => {
    expect(toCapMinor(12_345, "usd", fx)).toBe(12_345);
    expect(toCapMinor(100, "gbp", fx)).toBeNull();
    expect(toCapMinor(100, "USD", fx)).toBe(100);
  });

  it("reads rates written with exponents", () => {
    const tiny = fxTable("usd", { vnd: 4e-5 });
    expect(toCapMinor(1_000_000, "vnd", tiny)).toBe(4_000); // ₫1,000,000 × 0.00004 = $40.00
  });

  it("refuses amounts that are not minor units", () => {
    expect(() => toCapMinor(1.5, "eur", fx)).toThrow(RangeError);
    expect(() => toCapMinor(-1, "eur", fx)).toThrow(RangeError);
  });
});

describe("formatMoney", () => {
  it("writes amounts as people read them", () => {
    expect(formatMoney(4_000, "usd")).toBe("$40.00");
    expect(formatMoney(1_250, "eur")).toBe("€12.50");
    expect(formatMoney(5_000, "jpy")).toBe("¥5,000");
    expect(formatMoney(1_250, "bhd")).toBe("BHD 1.250");
    expect(formatMoney(100_000, "usd")).toBe("$1,000.00");
    expect(formatMoney(0, "usd")).toBe("$0.00");
  });
});

describe("formatWithCap", () => {
  it("adds what the money counts in the cap currency only when that is another currency", () => {
    expect(formatWithCap(5_000, "jpy", 3_300, "usd")).toBe("¥5,000 (≈ $33.00)");
    expect(formatWithCap(2_000, "usd", 2_000, "usd")).toBe("$20.00");
    // The cap currency is not known (no audit row says it): the call's own money only.
    expect(formatWithCap(1_250, "eur", 1_375, null)).toBe("€12.50");
    expect(formatWithCap(null, null, null, "usd")).toBe("");
    expect(formatWithCap(0, null, 0, null)).toBe("");
  });
});
