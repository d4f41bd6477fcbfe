import { formatMoney, minorUnitDigits } from "../../money/currency.js";
import { buildView, type ReportView } from "../../operator/report-view.js";
import type { ConsoleContext } from "../context.js";
import { html, jsonScript, type SafeHtml } from "../html.js";
import { CONSOLE_PATH, type NavState, page } from "../layout.js";

/**
 * Spend: money moved per agent over the last 24 h, 7 d and 30 d, and denials by rule, as
 * charts (Chart.js, bundled into the console's script) over the same figures as tables,
 * from the report `spendguard report` prints.
 */

export const SPEND_PATH = `${CONSOLE_PATH}/spend`;

const WINDOWS = [
  { label: "24 h", ms: 86_400_000 },
  { label: "7 d", ms: 7 * 86_400_000 },
  { label: "30 d", ms: 30 * 86_400_000 },
] as const;

/** What the page's script draws: bars per label, one dataset per window. */
export interface ChartData {
  title: string;
  unit: string;
  labels: string[];
  datasets: { label: string; data: number[] }[];
}

export async function spendPage(ctx: ConsoleContext, nav: NavState): Promise<string> {
  const now = ctx.now();
  const views = await Promise.all(
    WINDOWS.map(async (w) => ({
      window: w.label,
      view: buildView(await ctx.store.report({ since: now - w.ms, by: "agent" }), {
        since: now - w.ms,
        until: undefined,
        by: "agent",
        agent: null,
        session: null,
      }),
    })),
  );
  const month = views[2]?.view;
  if (!month || month.groups.length === 0) {
    const body = html`<h1>Spend</h1><p class="empty">No call in the last 30 days. Money moved by agents (refunds, captures, paid invoices) and their denials appear here, per agent, over 24 h, 7 d and 30 d.</p>`;
    return page({ title: "Spend", body, nav });
  }
  const currencies = [
    ...new Set(month.groups.flatMap((g) => g.money.map((m) => m.cap_currency ?? ""))),
  ].filter((c) => c !== "");
  const currency = currencies[0] ?? "usd";
  const agents = month.groups.map((g) => g.key ?? "(none)");
  const movedIn = (view: ReportView, agent: string) =>
    view.groups
      .find((g) => (g.key ?? "(none)") === agent)
      ?.money.find((m) => m.cap_currency === currency)?.moved ?? 0;
  const toMajor = (minor: number) => minor / 10 ** minorUnitDigits(currency);
  const money: ChartData = {
    title: `Money moved per agent (${currency.toUpperCase()})`,
    unit: currency.toUpperCase(),
    labels: agents,
    datasets: views.map(({ window, view }) => ({
      label: window,
      data: agents.map((a) => toMajor(movedIn(view, a))),
    })),
  };
  const rules = [...new Set(month.totals.denials.map((d) => ruleLabel(d.rule, d.code)))];
  const deniedIn = (view: ReportView, rule: string) =>
    view.totals.denials
      .filter((d) => ruleLabel(d.rule, d.code) === rule)
      .reduce((n, d) => n + d.count, 0);
  const denials: ChartData = {
    title: "Denials by rule",
    unit: "denials",
    labels: rules,
    datasets: views.map(({ window, view }) => ({
      label: window,
      data: rules.map((r) => deniedIn(view, r)),
    })),
  };
  const body = html`<h1>Spend</h1>
<section aria-labelledby="money-h"><h2 id="money-h">${money.title}</h2>
<canvas class="chart" data-chart="chart-money" role="img" aria-label="${money.title}: bar chart of the table below"></canvas>
${jsonScript("chart-money", money)}
<div class="table-wrap"><table><thead><tr><th scope="col">Agent</th>${views.map((v) => html`<th scope="col" class="num">Moved, ${v.window}</th>`)}<th scope="col" class="num">Unconfirmed, 30 d</th><th scope="col" class="num">Calls, 30 d</th><th scope="col" class="num">Denied, 30 d</th></tr></thead>
<tbody>${month.groups.map((g) => {
    const agent = g.key ?? "(none)";
    const unconfirmed = g.money.find((m) => m.cap_currency === currency)?.unconfirmed ?? 0;
    return html`<tr><th scope="row">${agent}</th>${views.map((v) => html`<td class="num">${formatMoney(movedIn(v.view, agent), currency)}</td>`)}<td class="num">${formatMoney(unconfirmed, currency)}</td><td class="num">${g.calls}</td><td class="num">${g.denied}</td></tr>`;
  })}</tbody></table></div>
${currencies.length > 1 ? html`<p class="muted">Agents with caps in ${currencies.slice(1).join(", ").toUpperCase()} are counted in their own currency: see <code>spendguard report</code>.</p>` : ""}
</section>
<section aria-labelledby="denials-h"><h2 id="denials-h">Denials by rule</h2>
${
  rules.length === 0
    ? html`<p class="muted">No denial in the last 30 days.</p>`
    : denialSection(
        denials,
        views.map((v) => v.window),
      )
}
</section>`;
  return page({ title: "Spend", body, nav });
}

function denialSection(denials: ChartData, windows: readonly string[]): SafeHtml {
  return html`<canvas class="chart" data-chart="chart-denials" role="img" aria-label="Denials by rule: bar chart of the table below"></canvas>
${jsonScript("chart-denials", denials)}
<div class="table-wrap"><table><thead><tr><th scope="col">Rule (code)</th>${windows.map((w) => html`<th scope="col" class="num">${w}</th>`)}</tr></thead>
<tbody>${denials.labels.map((rule, i) => html`<tr><th scope="row">${rule}</th>${denials.datasets.map((d) => html`<td class="num">${d.data[i] ?? 0}</td>`)}</tr>`)}</tbody></table></div>`;
}

function ruleLabel(rule: string | null, code: string | null): string {
  return `${rule ?? "?"} (${code ?? "?"})`;
}
