/** An amount in the currency's minor unit (cents, yen, fils), as Stripe counts it. */
export interface Money {
  amount: number;
  /** Lower-case ISO code, as Stripe writes it. */
  currency: string;
}

/**
 * Money as Stripe counts it: integers in each currency's minor unit. Which unit that is
 * comes from a table (Stripe's list), never from assuming cents; conversion into the cap
 * currency is exact rational arithmetic on the rate's decimal text, rounded up so spend
 * is never under-counted.
 */

/** Stripe's zero-decimal currencies: an amount of 500 JPY is ¥500. */
const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);

/** Stripe's three-decimal currencies: an amount of 1250 BHD is BHD 1.250. */
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/**
 * Digits after the decimal point in Stripe's API amounts. Every other currency (including
 * ISK, HUF and TWD, which Stripe keeps two-decimal in the API) has two.
 */
export function minorUnitDigits(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/** An exact non-negative rational number. */
interface Ratio {
  num: bigint;
  den: bigint;
}

const DECIMAL_TEXT = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/**
 * The exact value of a decimal as written (`1.08`, `0.0067`, `1e-7`). A JS number's
 * shortest text (`String(1.1)` is `1.1`) is what the operator typed in the policy, so
 * `1.1` is 11/10 here, not the binary double just above it.
 */
function parseDecimal(text: string): Ratio {
  const match = DECIMAL_TEXT.exec(text);
  if (!match) throw new RangeError(`not a non-negative decimal: ${text}`);
  const [, whole = "0", fraction = "", exponent = "0"] = match;
  let num = BigInt(whole + fraction);
  let den = 10n ** BigInt(fraction.length);
  const shift = Number(exponent);
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  return { num, den };
}

function decimalOf(value: number | string): Ratio {
  return parseDecimal(typeof value === "number" ? String(value) : value);
}

function toSafeNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} is too large`);
  return Number(value);
}

/**
 * Major units (a policy's `250`) to minor units of `currency` (25000 for usd), rounded
 * down: a cap of 0.005 USD allows 0 cents, never 1.
 */
export function majorToMinor(major: number, currency: string): number {
  const { num, den } = decimalOf(major);
  const scaled = num * 10n ** BigInt(minorUnitDigits(currency));
  return toSafeNumber(scaled / den, `${major} ${currency}`);
}

/** Rates into one cap currency, kept exact. */
export interface FxTable {
  capCurrency: string;
  rates: ReadonlyMap<string, Ratio>;
}

/** `fx: { eur: 1.08 }` (1 EUR = 1.08 of the cap currency) as an exact table. */
export function fxTable(capCurrency: string, rates: Readonly<Record<string, number>>): FxTable {
  return {
    capCurrency: capCurrency.toLowerCase(),
    rates: new Map(
      Object.entries(rates).map(([code, rate]) => [code.toLowerCase(), decimalOf(rate)]),
    ),
  };
}

/**
 * An amount (minor units of its currency) in minor units of the cap currency, rounded up;
 * `null` when the policy has no rate for it (the caller fails closed).
 * 1000 eur cents at 1.1 is exactly 1100 usd cents.
 */
export function toCapMinor(amount: number, currency: string, fx: FxTable): number | null {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new RangeError(`amount must be a non-negative integer of minor units, got ${amount}`);
  }
  const code = currency.toLowerCase();
  if (code === fx.capCurrency) return amount;
  const rate = fx.rates.get(code);
  if (!rate) return null;
  const num = BigInt(amount) * rate.num * 10n ** BigInt(minorUnitDigits(fx.capCurrency));
  const den = rate.den * 10n ** BigInt(minorUnitDigits(code));
  return toSafeNumber((num + den - 1n) / den, `${amount} ${currency} in ${fx.capCurrency}`);
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatterFor(currency: string): Intl.NumberFormat {
  let formatter = formatters.get(currency);
  if (!formatter) {
    const digits = minorUnitDigits(currency);
    formatter = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency: currency.toUpperCase(),
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    formatters.set(currency, formatter);
  }
  return formatter;
}

/** `$40.00`, `€12.50`, `¥5,000`, `BHD 1.250`: how reasons show money to agents and people. */
export function formatMoney(amount: number, currency: string): string {
  const code = currency.toLowerCase();
  const major = amount / 10 ** minorUnitDigits(code);
  // Intl separates a code from the number with a no-break space; plain text reads better.
  return formatterFor(code)
    .format(major)
    .replace(/\u00a0/g, " ");
}

/**
 * `€20.00 (≈ $21.60)`: money in its own currency and, when the cap currency differs, what
 * it counts against the caps; `""` when the call moves no money.
 */
export function formatWithCap(
  amount: number | null,
  currency: string | null,
  amountCap: number | null,
  capCurrency: string | null,
): string {
  if (amount === null || currency === null) return "";
  const own = formatMoney(amount, currency);
  return capCurrency !== null && currency !== capCurrency && amountCap !== null
    ? `${own} (≈ ${formatMoney(amountCap, capCurrency)})`
    : own;
}
