import { html, type SafeHtml } from "./html.js";

/**
 * The page around every console view: one stylesheet and one script, both served by this
 * server (`/console/assets/…`), a navigation bar for a signed-in operator, and a skip link
 * so keyboard users reach the content first.
 */

export const CONSOLE_PATH = "/console";
export const ASSETS_PATH = `${CONSOLE_PATH}/assets`;

export interface NavState {
  /** The signed-in operator's name. */
  operator: string;
  csrf: string;
  /** Which entry is the current page. */
  current: NavEntry;
  /** Pending approvals, shown as a count beside "Approvals". */
  pendingApprovals?: number;
  /** Writes with an unknown outcome, shown as a count beside "Unresolved". */
  unresolved?: number;
}

export type NavEntry =
  | "overview"
  | "spend"
  | "approvals"
  | "unresolved"
  | "audit"
  | "keys"
  | "none";

interface Entry {
  entry: NavEntry;
  label: string;
  path: string;
  /** The count beside it, when there is one, and what it counts. */
  count?: (nav: NavState) => { n: number | undefined; of: string };
}

const ENTRIES: readonly Entry[] = [
  { entry: "overview", label: "Overview", path: CONSOLE_PATH },
  { entry: "spend", label: "Spend", path: `${CONSOLE_PATH}/spend` },
  {
    entry: "approvals",
    label: "Approvals",
    path: `${CONSOLE_PATH}/approvals`,
    count: (nav) => ({ n: nav.pendingApprovals, of: "pending" }),
  },
  {
    entry: "unresolved",
    label: "Unresolved",
    path: `${CONSOLE_PATH}/unresolved`,
    count: (nav) => ({ n: nav.unresolved, of: "unresolved" }),
  },
  { entry: "audit", label: "Audit", path: `${CONSOLE_PATH}/audit` },
  { entry: "keys", label: "Keys", path: `${CONSOLE_PATH}/keys` },
];

export function page(options: { title: string; body: SafeHtml; nav?: NavState }): string {
  const nav = options.nav;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${options.title} · spendguard</title>
<link rel="stylesheet" href="${ASSETS_PATH}/console.css">
<script src="${ASSETS_PATH}/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="${CONSOLE_PATH}">spendguard</a>
${
  nav
    ? html`<nav aria-label="Console">${ENTRIES.map(
        (e) =>
          html`<a href="${e.path}"${e.entry === nav.current ? html` aria-current="page"` : ""}>${e.label}${badge(nav, e)}</a>`,
      )}</nav>
<form class="sign-out" method="post" action="${CONSOLE_PATH}/sign-out">
<input type="hidden" name="csrf" value="${nav.csrf}">
<span class="who">${nav.operator}</span> <button type="submit">Sign out</button>
</form>`
    : ""
}
</header>
<main id="main">
${options.body}
</main>
</body>
</html>
`.value;
}

function badge(nav: NavState, entry: Entry): SafeHtml {
  const count = entry.count?.(nav);
  if (!count?.n) return html``;
  return html` <span class="badge" aria-label="${count.n} ${count.of}">${count.n}</span>`;
}

/** A hidden CSRF field for a state-changing form. */
export function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** A one-line notice at the top of a page (after a redirect: `?done=…`). */
export function notice(text: string | null, kind: "ok" | "error" = "ok"): SafeHtml {
  if (!text) return html``;
  return html`<p class="notice ${kind}" role="${kind === "error" ? "alert" : "status"}">${text}</p>`;
}
