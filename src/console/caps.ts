import { formatMoney } from "../money/currency.js";
import type { LoadedPolicy } from "../policy/load.js";
import type { Store } from "../store/store.js";
import { html, type SafeHtml } from "./html.js";

/**
 * A session's money against each of its caps — the session's, the agent's day, and the
 * day of the customer it last acted for — as `<meter>` bars (no inline style, so the page
 * needs no 'unsafe-inline') with the figures beside them.
 */

export interface CapMeter {
  /** `session`, `day`, `customer`. */
  kind: "session" | "day" | "customer";
  label: string;
  /** Cap-currency minor units counted (settled + reserved + unknown). */
  spent: number;
  /** `null`: the policy sets no such cap. */
  cap: number | null;
  currency: string;
}

export interface MeterSubject {
  id: string;
  agent: string;
  /** What the session has counted, as `sessionSummaries` reports it. */
  spent: number;
  cap_currency: string | null;
}

export async function capMeters(
  store: Store,
  session: MeterSubject,
  policy: LoadedPolicy | undefined,
  customer: string | null,
  now: number,
): Promise<CapMeter[]> {
  const currency = session.cap_currency ?? policy?.caps.currency ?? "usd";
  const usage = await store.usage({
    session: session.id,
    agent: session.agent,
    tool: "",
    customer,
    at: now,
  });
  const caps = policy?.caps;
  const meters: CapMeter[] = [
    {
      kind: "session",
      label: "Session",
      spent: session.spent,
      cap: caps?.perSession ?? null,
      currency,
    },
    {
      kind: "day",
      label: "Agent, 24 h",
      spent: usage.daySpend,
      cap: caps?.perDay ?? null,
      currency,
    },
  ];
  if (customer) {
    meters.push({
      kind: "customer",
      label: `${customer}, 24 h`,
      spent: usage.customerDaySpend,
      cap: caps?.perCustomerPerDay ?? null,
      currency,
    });
  }
  return meters;
}

/** `idPrefix` makes the meter's id unique on the page (a session id). */
export function meterHtml(meter: CapMeter, policyKnown: boolean, idPrefix: string): SafeHtml {
  const spent = formatMoney(meter.spent, meter.currency);
  if (meter.cap === null) {
    return html`<div class="cap" data-cap="${meter.kind}"><span class="cap-label">${meter.label}</span>
<span class="cap-text">${spent} · ${policyKnown ? "no cap" : "cap unknown (policy file not found)"}</span></div>`;
  }
  const left = Math.max(0, meter.cap - meter.spent);
  const cap = formatMoney(meter.cap, meter.currency);
  const id = `${idPrefix}-${meter.kind}`;
  return html`<div class="cap" data-cap="${meter.kind}"><label class="cap-label" for="${id}">${meter.label}</label>
<meter id="${id}" min="0" max="${meter.cap}" value="${Math.min(meter.spent, meter.cap)}" low="${Math.round(meter.cap * 0.6)}" high="${Math.round(meter.cap * 0.9)}" optimum="0" data-spent="${meter.spent}">${spent} of ${cap}</meter>
<span class="cap-text">${spent} of ${cap} · ${formatMoney(left, meter.currency)} left</span></div>`;
}
