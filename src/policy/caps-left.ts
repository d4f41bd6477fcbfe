import { formatMoney } from "../money/currency.js";
import type { PolicyCaps } from "./load.js";

/** Cap-currency minor units counted so far (settled + reserved + unknown). */
export interface SpendSoFar {
  sessionSpend: number;
  daySpend: number;
}

/** `$40.00 left of the $250.00 session cap, $960.00 of the $1,000.00 daily cap.` */
export function capsLeftLine(caps: PolicyCaps, usage: SpendSoFar): string | undefined {
  const money = (amount: number) => formatMoney(amount, caps.currency);
  const parts: string[] = [];
  if (caps.perSession !== null) {
    parts.push(
      `${money(Math.max(0, caps.perSession - usage.sessionSpend))} left of the ${money(caps.perSession)} session cap`,
    );
  }
  if (caps.perDay !== null) {
    parts.push(
      `${money(Math.max(0, caps.perDay - usage.daySpend))} left of the ${money(caps.perDay)} daily cap`,
    );
  }
  return parts.length > 0 ? `${parts.join(", ")}.` : undefined;
}
