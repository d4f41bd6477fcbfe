import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Colors,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";

/**
 * The console page's only script (bundled at build time, served by spendguard itself):
 * it keeps live regions current from server-sent events and draws the spend charts. All
 * markup comes from the server, escaped there; nothing here builds HTML from data.
 */

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip, Colors);

/** Parses server-rendered HTML into nodes of this document (a parsed script never runs). */
function nodesOf(markup: string, context: "body" | "tbody"): Node[] {
  const wrapped = context === "tbody" ? `<table><tbody>${markup}</tbody></table>` : markup;
  const doc = new DOMParser().parseFromString(wrapped, "text/html");
  const root = context === "tbody" ? doc.querySelector("tbody") : doc.body;
  return root ? Array.from(root.childNodes, (node) => document.importNode(node, true)) : [];
}

/** A form field the operator is using: a live update waits until they leave it. */
function busy(region: Element): boolean {
  const active = document.activeElement;
  if (active && region.contains(active) && active.matches("input, textarea, select")) return true;
  return Array.from(
    region.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>(
      "input:not([type=hidden]), textarea",
    ),
  ).some((field) => field.value !== field.defaultValue);
}

/** Where the focus was, so a keyboard user keeps their place across an update. */
function focusKey(region: Element): string | undefined {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !region.contains(active)) return undefined;
  if (active.id) return `#${CSS.escape(active.id)}`;
  const href = active.getAttribute("href");
  return href ? `[href="${CSS.escape(href)}"]` : undefined;
}

function replaceRegion(region: HTMLElement, markup: string): void {
  const key = focusKey(region);
  region.replaceChildren(...nodesOf(markup, "body"));
  if (key) region.querySelector<HTMLElement>(key)?.focus();
  drawCharts(region);
}

function showState(text: string): void {
  for (const el of document.querySelectorAll("[data-live-state]")) el.textContent = text;
}

function follow(url: string, event: "update" | "rows", apply: (markup: string) => void): void {
  const source = new EventSource(url);
  source.addEventListener(event, (e) => apply((e as MessageEvent<string>).data));
  source.addEventListener("open", () => showState("Following new rows live."));
  source.addEventListener("error", () => {
    showState("Live updates interrupted; reconnecting…");
    // Signed out (the stream answers 401): the browser stops retrying; reload to sign in.
    if (source.readyState === EventSource.CLOSED)
      showState("Live updates stopped: reload the page.");
  });
}

const MAX_ROWS = 500;

function startLive(): void {
  for (const region of document.querySelectorAll<HTMLElement>("[data-live]")) {
    const url = region.dataset.live;
    if (!url) continue;
    let waiting: string | undefined;
    const flush = () => {
      if (waiting !== undefined && !busy(region)) {
        replaceRegion(region, waiting);
        waiting = undefined;
      }
    };
    region.addEventListener("focusout", () => setTimeout(flush, 0));
    follow(url, "update", (markup) => {
      waiting = markup;
      flush();
    });
  }
  for (const body of document.querySelectorAll<HTMLTableSectionElement>("[data-live-rows]")) {
    const url = body.dataset.liveRows;
    if (!url) continue;
    follow(url, "rows", (markup) => {
      body.prepend(...nodesOf(markup, "tbody"));
      while (body.rows.length > MAX_ROWS) body.lastElementChild?.remove();
    });
  }
}

interface ChartData {
  title: string;
  unit: string;
  labels: string[];
  datasets: { label: string; data: number[] }[];
}

const charts = new Map<HTMLCanvasElement, Chart>();

function drawCharts(root: ParentNode): void {
  for (const canvas of root.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    const source = document.getElementById(canvas.dataset.chart ?? "");
    if (!source?.textContent || charts.has(canvas)) continue;
    const data = JSON.parse(source.textContent) as ChartData;
    charts.set(
      canvas,
      new Chart(canvas, {
        type: "bar",
        data: { labels: data.labels, datasets: data.datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, title: { display: true, text: data.unit } } },
          plugins: { legend: { position: "bottom" } },
        },
      }),
    );
  }
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts(document);
  startLive();
});
