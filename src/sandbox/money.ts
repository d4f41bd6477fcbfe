/**
 * Currency facts the sandbox needs to follow Stripe's rules. Deliberately independent of
 * spendguard's own money code: the sandbox stands in for Stripe, so sharing the table
 * would hide a mistake on both sides at once.
 */

const ZERO_DECIMAL = new Set(
  "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "),
);
const THREE_DECIMAL = new Set("bhd jod kwd omr tnd".split(" "));

/** Stripe's minimum charge amounts, in minor units (its "Minimum and maximum charge amounts" table). */
const MINIMUM_CHARGE: Record<string, number> = {
  usd: 50,
  aed: 200,
  aud: 50,
  bgn: 100,
  brl: 50,
  cad: 50,
  chf: 50,
  czk: 1500,
  dkk: 250,
  eur: 50,
  gbp: 30,
  hkd: 400,
  huf: 17500,
  inr: 50,
  jpy: 50,
  mxn: 1000,
  myr: 200,
  nok: 300,
  nzd: 50,
  pln: 200,
  ron: 200,
  sek: 300,
  sgd: 50,
  thb: 1000,
};

/** Stripe refuses amounts above eight digits in the minor unit. */
export const MAXIMUM_AMOUNT = 99_999_999;

const KNOWN = new Set(Intl.supportedValuesOf("currency").map((c) => c.toLowerCase()));

export function isKnownCurrency(code: string): boolean {
  return KNOWN.has(code);
}

function minorDigits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

export function minimumChargeAmount(currency: string): number {
  return MINIMUM_CHARGE[currency] ?? 1;
}

/** `$25.00`, `€21.45`, `¥2,500`: how Stripe's messages show an amount. */
export function formatAmount(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  return new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: currency.toUpperCase(),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(amount / 10 ** digits);
}
