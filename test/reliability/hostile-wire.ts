import { createServer, request } from "node:http";
import Database from "better-sqlite3";
import type { Sandbox } from "../../src/sandbox/index.js";
import { DATABASE_FILE } from "../../src/store/sqlite/store.js";

/**
 * What the hostile-input suite checks on the wire and at rest: a relay in front of the
 * sandbox that keeps every request spendguard sent to Stripe (full URL, body, key,
 * `Stripe-Account`, Stripe's answer), a judge of whether each request was well formed,
 * and a scan of any text for secrets, whole or in part.
 */

/** One request that reached Stripe. */
export interface StripeExchange {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  body: string;
  /** The bearer key: which server sent it. */
  key: string;
  account: string | undefined;
  idempotencyKey: string | undefined;
  status: number;
  /** Stripe's answer, parsed. */
  answer: Record<string, unknown> | null;
}

export async function stripeRecorder(
  sandbox: Sandbox,
): Promise<{ url: string; exchanges: StripeExchange[]; close(): Promise<void> }> {
  const exchanges: StripeExchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const sent = Buffer.concat(chunks);
      const upstream = request(
        {
          host: "127.0.0.1",
          port: sandbox.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          const reply: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => reply.push(chunk));
          answer.on("end", () => {
            const text = Buffer.concat(reply).toString("utf8");
            exchanges.push({
              method: req.method ?? "",
              url: req.url ?? "",
              body: sent.toString("utf8"),
              key: (req.headers.authorization ?? "").replace(/^Bearer /, ""),
              account: req.headers["stripe-account"] as string | undefined,
              idempotencyKey: req.headers["idempotency-key"] as string | undefined,
              status: answer.statusCode ?? 0,
              answer: parseJson(text),
            });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(text);
          });
        },
      );
      upstream.on("error", () => res.destroy());
      upstream.end(sent);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Stripe's id prefix for each resource path spendguard may reach. */
const RESOURCES: Record<string, string | null> = {
  charges: "ch",
  customers: "cus",
  payment_intents: "pi",
  refunds: "re",
  subscriptions: "sub",
  invoices: "in",
  disputes: "dp",
  balance: null,
};
const ACTIONS = new Set(["capture", "pay"]);
const ANY_ID = /^(?:ch|cus|pi|re|sub|in|dp)_[A-Za-z0-9_]{1,250}$/;
const idOf = (prefix: string) => new RegExp(`^${prefix}_[A-Za-z0-9_]{1,250}$`);

const EVIDENCE = new Set([
  "customer_name",
  "customer_email_address",
  "product_description",
  "uncategorized_text",
  "cancellation_rebuttal",
  "refund_refusal_explanation",
  "duplicate_charge_explanation",
  "service_date",
  "shipping_carrier",
  "shipping_tracking_number",
  "access_activity_log",
]);

/** What each parameter may carry; anything not listed here has no business reaching Stripe. */
const PARAMS: Record<string, (value: string) => boolean> = {
  customer: (v) => idOf("cus").test(v),
  charge: (v) => idOf("ch").test(v),
  payment_intent: (v) => idOf("pi").test(v),
  starting_after: (v) => ANY_ID.test(v),
  amount: (v) => /^[1-9][0-9]{0,7}$/.test(v),
  amount_to_capture: (v) => /^[1-9][0-9]{0,7}$/.test(v),
  limit: (v) => /^[0-9]{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 100,
  "expand[]": (v) => /^(?:data\.)?[a-z_]+$/.test(v),
  // Exact-match list filter, not a search query; what an address may hold and no more.
  email: (v) =>
    v.length <= 512 && /^[A-Za-z0-9_'+.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(v),
  reason: (v) => ["duplicate", "fraudulent", "requested_by_customer"].includes(v),
  status: (v) => /^[a-z_]{1,40}$/.test(v),
  submit: (v) => v === "true" || v === "false",
  cancel_at_period_end: (v) => v === "true" || v === "false",
  // The stamp every write carries: the admission it belongs to, nothing the agent wrote.
  "metadata[spendguard_admission]": (v) => /^adm_[0-9]+$/.test(v),
};

/**
 * Why this request should never have left spendguard, or an empty list: the path is one
 * resource and one well-formed id, every parameter is known and well formed (ids by
 * prefix, positive integer amounts, free text within its limit) and the account, if
 * any, is one the policy allows.
 */
export function malformations(exchange: StripeExchange, accounts: readonly string[]): string[] {
  const problems: string[] = [];
  const [path = "", query = ""] = exchange.url.split(/\?(.*)/s, 2);
  if (!["GET", "POST", "DELETE"].includes(exchange.method)) problems.push("method");
  const segments = path.split("/");
  const [root, version, resource = "", id, action, ...rest] = segments;
  if (root !== "" || version !== "v1" || !(resource in RESOURCES) || rest.length > 0) {
    problems.push(`path ${path}`);
  } else {
    const prefix = RESOURCES[resource];
    if (id !== undefined && (prefix === null || prefix === undefined || !idOf(prefix).test(id))) {
      problems.push(`id ${id} in ${path}`);
    }
    if (action !== undefined && !ACTIONS.has(action)) problems.push(`action ${action}`);
  }
  const params = [...new URLSearchParams(query), ...new URLSearchParams(exchange.body)];
  for (const [rawKey, value] of params) {
    const key = rawKey.replace(/\[\d+\]$/, "[]");
    const evidence = /^evidence\[([a-z_]+)\]$/.exec(key)?.[1];
    if (evidence !== undefined) {
      // 5,000 characters as Stripe (and zod) count them: code points, not UTF-16 units.
      if (!EVIDENCE.has(evidence) || Array.from(value).length > 5000)
        problems.push(`${rawKey}=${clip(value)}`);
      continue;
    }
    const check = PARAMS[key];
    if (!check?.(value)) problems.push(`${rawKey}=${clip(value)}`);
  }
  if (exchange.account !== undefined && !accounts.includes(exchange.account)) {
    problems.push(`Stripe-Account ${clip(exchange.account)}`);
  }
  return problems;
}

const clip = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);

/** A place text was found: a tool result, a server's stderr, a database row. */
export interface Haystack {
  where: string;
  text: string;
}

/** Every row of every table in the data directory's database, one haystack per table. */
export function databaseText(home: string): Haystack[] {
  const db = new Database(`${home}/${DATABASE_FILE}`, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    return tables.map(({ name }) => ({
      where: `table ${name}`,
      text: (db.prepare(`SELECT * FROM "${name}"`).all() as unknown[])
        .map((row) => JSON.stringify(row))
        .join("\n"),
    }));
  } finally {
    db.close();
  }
}

/**
 * The strings whose presence means a secret leaked: the key itself, its body without
 * the well-known prefix, the prefix with the start of the body (a truncated key), and,
 * for a random body (32 characters or more: agent keys, real Stripe keys), every
 * 12-character stretch of it (a key cut anywhere). The sandbox's demo keys have short
 * bodies made of words (`sg_subscription_manager`) that tool names share.
 */
export function leakNeedles(secret: string): string[] {
  const prefix = /^(?:[a-z]{2}_(?:test|live)_|sg_(?:agent|op)_)/.exec(secret)?.[0] ?? "";
  const body = secret.slice(prefix.length);
  const needles = new Set([secret]);
  if (body.length >= 8) {
    needles.add(body);
    needles.add(prefix + body.slice(0, 8));
  }
  if (body.length >= 32) {
    for (let i = 0; i + 12 <= body.length; i++) needles.add(body.slice(i, i + 12));
  }
  return [...needles];
}

export interface Leak {
  where: string;
  secret: string;
  needle: string;
  context: string;
}

/** Every place a secret (or a piece of one) appears. */
export function findLeaks(haystacks: readonly Haystack[], secrets: readonly string[]): Leak[] {
  const bySecret = secrets.flatMap((secret) =>
    leakNeedles(secret).map((needle) => ({ secret, needle })),
  );
  const pattern = new RegExp(
    bySecret.map(({ needle }) => needle.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")).join("|"),
    "g",
  );
  const leaks: Leak[] = [];
  for (const { where, text } of haystacks) {
    for (const match of text.matchAll(pattern)) {
      const found = bySecret.find(({ needle }) => needle === match[0]);
      leaks.push({
        where,
        secret: `${found?.secret.slice(0, 8)}…`,
        needle: match[0],
        context: text.slice(Math.max(0, match.index - 60), match.index + match[0].length + 60),
      });
    }
  }
  return leaks;
}
