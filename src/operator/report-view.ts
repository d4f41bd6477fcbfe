import type { Report, ReportGrouping, ReportMoneyRow } from "../store/store.js";

/**
 * A report as operators read it (`spendguard report --json`, the operator tool
 * `spend_summary`): the store's calls, money and denials merged per group, with totals.
 */

export interface MoneyView {
  cap_currency: string | null;
  /** Money-moving calls admitted (released ones included). */
  money_calls: number;
  moved: number;
  unconfirmed: number;
  reserved: number;
  unknown: number;
  revenue_at_risk: number;
}

export interface GroupView {
  key: string | null;
  calls: number;
  ok: number;
  replayed: number;
  denied: number;
  errors: number;
  money: MoneyView[];
  denials: { rule: string | null; code: string | null; count: number }[];
}

export interface ReportView {
  since: string;
  until: string | null;
  by: ReportGrouping;
  filters: { agent: string | null; session: string | null };
  groups: GroupView[];
  totals: Omit<GroupView, "key">;
}

export function buildView(
  report: Report,
  options: {
    since: number;
    until: number | undefined;
    by: ReportGrouping;
    agent: string | null;
    session: string | null;
  },
): ReportView {
  // Money recorded before any audit row named its currency belongs to the only one known.
  const currencies = new Set(report.money.map((m) => m.cap_currency).filter((c) => c !== null));
  const only = currencies.size === 1 ? [...currencies][0] : undefined;
  const groups = new Map<string | null, GroupView>();
  const group = (key: string | null): GroupView => {
    let g = groups.get(key);
    if (!g) {
      g = { key, calls: 0, ok: 0, replayed: 0, denied: 0, errors: 0, money: [], denials: [] };
      groups.set(key, g);
    }
    return g;
  };
  for (const row of report.calls) {
    Object.assign(group(row.key), {
      calls: row.calls,
      ok: row.ok,
      replayed: row.replayed,
      denied: row.denied,
      errors: row.errors,
    });
  }
  for (const row of report.money) {
    addMoney(group(row.key).money, { ...row, cap_currency: row.cap_currency ?? only ?? null });
  }
  for (const row of report.denials) {
    group(row.key).denials.push({ rule: row.rule, code: row.code, count: row.count });
  }
  const sorted = [...groups.values()].sort((a, b) =>
    (a.key ?? "\uffff").localeCompare(b.key ?? "\uffff"),
  );
  const totals: Omit<GroupView, "key"> = {
    calls: 0,
    ok: 0,
    replayed: 0,
    denied: 0,
    errors: 0,
    money: [],
    denials: [],
  };
  const denialTotals = new Map<
    string,
    { rule: string | null; code: string | null; count: number }
  >();
  for (const g of sorted) {
    totals.calls += g.calls;
    totals.ok += g.ok;
    totals.replayed += g.replayed;
    totals.denied += g.denied;
    totals.errors += g.errors;
    for (const m of g.money) addMoney(totals.money, m);
    for (const d of g.denials) {
      const id = `${d.rule}\u0000${d.code}`;
      const entry = denialTotals.get(id) ?? { rule: d.rule, code: d.code, count: 0 };
      entry.count += d.count;
      denialTotals.set(id, entry);
    }
  }
  totals.denials = [...denialTotals.values()].sort((a, b) => b.count - a.count);
  return {
    since: new Date(options.since).toISOString(),
    until: options.until === undefined ? null : new Date(options.until).toISOString(),
    by: options.by,
    filters: { agent: options.agent, session: options.session },
    groups: sorted,
    totals,
  };
}

function addMoney(list: MoneyView[], row: Omit<ReportMoneyRow, "key"> | MoneyView): void {
  const incoming: MoneyView =
    "moved" in row
      ? row
      : {
          cap_currency: row.cap_currency,
          money_calls: row.money_calls,
          moved: row.settled,
          unconfirmed: row.reserved + row.unknown,
          reserved: row.reserved,
          unknown: row.unknown,
          revenue_at_risk: row.revenue_at_risk,
        };
  const existing = list.find((m) => m.cap_currency === incoming.cap_currency);
  if (!existing) {
    list.push({ ...incoming });
    return;
  }
  existing.money_calls += incoming.money_calls;
  existing.moved += incoming.moved;
  existing.unconfirmed += incoming.unconfirmed;
  existing.reserved += incoming.reserved;
  existing.unknown += incoming.unknown;
  existing.revenue_at_risk += incoming.revenue_at_risk;
}
