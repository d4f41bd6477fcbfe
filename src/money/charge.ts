import { type FxTable, formatMoney, type Money, toCapMinor } from "./currency.js";

/**
 * What one call counts against the caps: the money it moves, in its own currency and in
 * the cap currency (rounded up), and the recurring revenue it puts at risk.
 */
export interface CallCharge {
  /** Money the call moves; `null` for a call that moves none (a read, a cancellation). */
  moves: Money | null;
  /** `moves` in cap-currency minor units, rounded up; 0 when nothing moves. */
  amountCap: number;
  capCurrency: string;
  /** Monthly revenue at risk in cap-currency minor units, when convertible. */
  revenueAtRiskCap: number | null;
  /** Counts against the cancellation caps. */
  cancellation: boolean;
}

export const noCharge = (capCurrency: string): CallCharge => ({
  moves: null,
  amountCap: 0,
  capCurrency,
  revenueAtRiskCap: null,
  cancellation: false,
});

/**
 * The charge of a resolved call, or the currency that cannot be converted: money moving
 * in a currency with no rate is never counted as zero — the caller denies it.
 */
export function chargeOf(
  resolution: { moves?: Money; revenueAtRisk?: Money },
  fx: FxTable,
): { charge: CallCharge } | { unconvertible: string } {
  const { moves, revenueAtRisk } = resolution;
  const amountCap = moves ? toCapMinor(moves.amount, moves.currency, fx) : 0;
  if (amountCap === null && moves) return { unconvertible: moves.currency.toLowerCase() };
  return {
    charge: {
      moves: moves ? { amount: moves.amount, currency: moves.currency.toLowerCase() } : null,
      amountCap: amountCap ?? 0,
      capCurrency: fx.capCurrency,
      // Revenue at risk is only recorded, never capped, so a missing rate leaves it blank.
      revenueAtRiskCap: revenueAtRisk
        ? toCapMinor(revenueAtRisk.amount, revenueAtRisk.currency, fx)
        : null,
      cancellation: revenueAtRisk !== undefined,
    },
  };
}

/**
 * What to settle in the cap currency once Stripe reports what moved. If Stripe reports a
 * currency we cannot convert (it should not), the reserved figure stands.
 */
export function settledCap(moved: Money, reservedCap: number, fx: FxTable): number {
  return toCapMinor(moved.amount, moved.currency, fx) ?? reservedCap;
}

/** `€50.00 (≈ $54.00)` or `$54.00`: the amount as the agent sent it, and as the caps see it. */
export function describeCharge(charge: CallCharge): string {
  if (!charge.moves) return formatMoney(0, charge.capCurrency);
  const own = formatMoney(charge.moves.amount, charge.moves.currency);
  return charge.moves.currency === charge.capCurrency
    ? own
    : `${own} (≈ ${formatMoney(charge.amountCap, charge.capCurrency)})`;
}
