import { cleanReason } from "../audit/text.js";
import type { Admission, AuditRecord, Store } from "../store/store.js";
import { KEY_LIFE_MS } from "./idempotency.js";
import { ownerIsGone, readOwners } from "./owner.js";
import { ReconciliationEntries } from "./reconcile.js";

/**
 * Writes whose outcome nobody could prove — `unknown`, or `reserved` by a process that is
 * gone — as the operator sees them (`spendguard admissions`, the `list_unresolved` tool,
 * the console), and the operator's ruling on one: it applied (settled at what was
 * reserved) or it did not (released), with a reason, as an audit row.
 */

export interface UnresolvedAdmission {
  id: string;
  session: string;
  agent: string;
  tool: string;
  customer: string | null;
  /** The arguments as the audit keeps them (redacted, canonical JSON). */
  args: string;
  account: string | null;
  /** Money it would move, in its own currency's minor unit. */
  amount: number;
  currency: string | null;
  /** What it counts against the caps meanwhile, in the cap currency's minor unit. */
  amount_cap: number;
  /** The cap currency its call was audited in; `null` when no row says (a call moving no money). */
  cap_currency: string | null;
  state: "unknown" | "reserved";
  created_at: string;
  /** Whether Stripe may still hold its idempotency key (so a repeat could still be sent). */
  key_alive: boolean;
}

export async function unresolvedAdmissions(
  store: Store,
  now: number,
  filter: { agent?: string } = {},
): Promise<UnresolvedAdmission[]> {
  const unresolved: UnresolvedAdmission[] = [];
  const open = await store.listAdmissions({ states: ["unknown", "reserved"], ...filter });
  const owners = await readOwners(store, open, now);
  for (const a of open) {
    if (a.state === "unknown" || ownerIsGone(a, owners))
      unresolved.push(view(a, await capCurrencyOf(store, a), now));
  }
  return unresolved;
}

function view(a: Admission, capCurrency: string | null, now: number): UnresolvedAdmission {
  return {
    id: a.id,
    session: a.session,
    agent: a.agent,
    tool: a.tool,
    customer: a.customer,
    args: a.args,
    account: a.account,
    amount: a.amount,
    currency: a.currency,
    amount_cap: a.amount_cap,
    cap_currency: capCurrency,
    state: a.state === "unknown" ? "unknown" : "reserved",
    created_at: new Date(a.created_at).toISOString(),
    key_alive: now - a.created_at < KEY_LIFE_MS,
  };
}

export interface Ruling {
  id: string;
  applied: boolean;
  reason: string;
  /** Who decides: `cli`, `operator:<name>`, `console:<name>`. */
  by: string;
  now: number;
}

export type RulingOutcome =
  | { resolved: true; admission: UnresolvedAdmission; record: AuditRecord }
  /** No such admission, or it is not unresolved (settled, released, or still in flight). */
  | { resolved: false; problem: "unknown" | "not_unresolved"; state?: string };

export async function resolveAdmission(store: Store, ruling: Ruling): Promise<RulingOutcome> {
  const admission = await store.getAdmission(ruling.id);
  if (!admission) return { resolved: false, problem: "unknown" };
  const open =
    admission.state === "unknown" ||
    (admission.state === "reserved" &&
      ownerIsGone(admission, await readOwners(store, [admission], ruling.now)));
  if (!open) return { resolved: false, problem: "not_unresolved", state: admission.state };
  const capCurrency = await capCurrencyOf(store, admission);
  const entries = new ReconciliationEntries(capCurrency, () => ruling.now, "operator");
  const reason = `${ruling.by} ruled it ${ruling.applied ? "applied" : "not applied"}: ${cleanReason(ruling.reason)}`;
  const result = ruling.applied
    ? await store.settle(
        admission.id,
        {
          amount: admission.amount,
          amount_cap: admission.amount_cap,
          stripe_request_id: null,
          result: null,
        },
        entries.entry(admission, "reconciled", null, reason),
        "if-applied",
      )
    : await store.release(
        admission.id,
        entries.entry(admission, "reconciled", null, reason),
        "if-applied",
      );
  if (!result.applied || !result.record) {
    return {
      resolved: false,
      problem: "not_unresolved",
      state: (await store.getAdmission(admission.id))?.state,
    };
  }
  return {
    resolved: true,
    admission: view(admission, capCurrency, ruling.now),
    record: result.record,
  };
}

/** The cap currency the admission's own call was audited in. */
async function capCurrencyOf(store: Store, admission: Admission): Promise<string | null> {
  const rows = await store.queryAudit({ session: admission.session, tool: admission.tool });
  const own = rows.find((row) => row.idempotency_key === admission.idempotency_key);
  return own?.cap_currency ?? rows.find((row) => row.cap_currency !== null)?.cap_currency ?? null;
}
