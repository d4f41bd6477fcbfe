import { resourceMissing } from "./errors.js";
import type { JsonObject } from "./json.js";

/**
 * The sandbox's state: every object it holds, per Stripe account. Records keep what the
 * sandbox decides (amounts, statuses, links); what Stripe derives from them — a charge's
 * `amount_refunded`, an invoice's `amount_remaining` — is computed when rendered, so it can
 * never disagree with the objects it comes from.
 */

/** Fields every stored object has. `seq` orders objects created in the same second. */
export interface Stored {
  id: string;
  account: string;
  created: number;
  seq: number;
}

export type Metadata = Record<string, string>;

export interface Address {
  city: string | null;
  country: string | null;
  line1: string | null;
  line2: string | null;
  postal_code: string | null;
  state: string | null;
}

/** A card: a customer source (`card_…`) or a PaymentMethod (`pm_…`). */
export interface CardRecord extends Stored {
  customer: string | null;
  brand: string;
  last4: string;
  funding: string;
  country: string;
  expMonth: number;
  expYear: number;
  fingerprint: string;
  name: string | null;
  /** The decline a charge on this card meets (`generic_decline`, …), or null when it succeeds. */
  declineCode: string | null;
}

export interface CustomerRecord extends Stored {
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  address: Address | null;
  metadata: Metadata;
  defaultSource: string | null;
  invoicePrefix: string;
}

export interface ChargeFailure {
  code: string;
  declineCode: string;
  message: string;
}

export interface ChargeRecord extends Stored {
  amount: number;
  currency: string;
  customer: string | null;
  paymentIntent: string | null;
  /** The card charged: a source (`card_…`) or a PaymentMethod (`pm_…`). */
  card: string;
  description: string | null;
  metadata: Metadata;
  captured: boolean;
  amountCaptured: number;
  failure: ChargeFailure | null;
  balanceTransaction: string | null;
  receiptNumber: string | null;
}

export type PaymentIntentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_capture"
  | "succeeded"
  | "canceled";

export interface PaymentIntentRecord extends Stored {
  amount: number;
  currency: string;
  customer: string | null;
  paymentMethod: string | null;
  captureMethod: "automatic" | "automatic_async" | "manual";
  status: PaymentIntentStatus;
  latestCharge: string | null;
  description: string | null;
  metadata: Metadata;
  clientSecret: string;
  /** Stripe's error object of the last failed attempt, shown as `last_payment_error`. */
  lastPaymentError: JsonObject | null;
}

export type RefundReason = "duplicate" | "fraudulent" | "requested_by_customer";

export interface RefundRecord extends Stored {
  charge: string;
  paymentIntent: string | null;
  amount: number;
  currency: string;
  reason: RefundReason | null;
  metadata: Metadata;
  balanceTransaction: string;
}

export interface ProductRecord extends Stored {
  name: string;
  description: string | null;
  metadata: Metadata;
}

export interface PriceRecord extends Stored {
  product: string;
  currency: string;
  unitAmount: number;
  interval: "day" | "week" | "month" | "year";
  intervalCount: number;
  nickname: string | null;
  metadata: Metadata;
}

export interface SubscriptionItemRecord {
  id: string;
  created: number;
  price: string;
  quantity: number;
  currentPeriodStart: number;
  currentPeriodEnd: number;
}

export type SubscriptionStatus =
  | "active"
  | "past_due"
  | "unpaid"
  | "canceled"
  | "incomplete"
  | "incomplete_expired"
  | "trialing"
  | "paused";

export interface CancellationDetails {
  comment: string | null;
  feedback: string | null;
  reason: "cancellation_requested" | "payment_disputed" | "payment_failed" | null;
}

export interface SubscriptionRecord extends Stored {
  customer: string;
  status: SubscriptionStatus;
  items: SubscriptionItemRecord[];
  startDate: number;
  cancelAtPeriodEnd: boolean;
  cancelAt: number | null;
  canceledAt: number | null;
  endedAt: number | null;
  cancellationDetails: CancellationDetails;
  description: string | null;
  latestInvoice: string | null;
  metadata: Metadata;
}

export interface InvoiceLineRecord {
  id: string;
  amount: number;
  description: string | null;
  quantity: number;
  price: string | null;
  periodStart: number;
  periodEnd: number;
}

export type InvoiceStatus = "draft" | "open" | "paid" | "void" | "uncollectible";

export interface InvoiceRecord extends Stored {
  customer: string;
  subscription: string | null;
  status: InvoiceStatus;
  currency: string;
  lines: InvoiceLineRecord[];
  number: string | null;
  description: string | null;
  dueDate: number | null;
  periodStart: number;
  periodEnd: number;
  attemptCount: number;
  finalizedAt: number | null;
  paidAt: number | null;
  /** The charge that paid it; null when unpaid or paid out of band. */
  charge: string | null;
  metadata: Metadata;
}

export type DisputeStatus =
  | "warning_needs_response"
  | "warning_under_review"
  | "warning_closed"
  | "needs_response"
  | "under_review"
  | "won"
  | "lost";

export interface DisputeRecord extends Stored {
  charge: string;
  amount: number;
  currency: string;
  reason: string;
  status: DisputeStatus;
  evidence: Record<string, string | null>;
  dueBy: number;
  submissionCount: number;
  metadata: Metadata;
}

/** The objects of one kind, per account, newest first when listed. */
export class Collection<T extends Stored> {
  private readonly byId = new Map<string, T>();

  constructor(
    /** Stripe's word for the object in `No such …` messages. */
    readonly noun: string,
    private readonly nextSeq: () => number,
  ) {}

  insert(record: Omit<T, "seq">): T {
    const stored = { ...record, seq: this.nextSeq() } as T;
    this.byId.set(stored.id, stored);
    return stored;
  }

  get(account: string, id: string): T | undefined {
    const record = this.byId.get(id);
    return record?.account === account ? record : undefined;
  }

  /** The object, or Stripe's 404 naming `param`. */
  require(account: string, id: string, param = "id"): T {
    const record = this.get(account, id);
    if (!record) throw resourceMissing(this.noun, id, param);
    return record;
  }

  /** Every object of the account, newest first (Stripe's list order). */
  all(account: string): T[] {
    return [...this.byId.values()].filter((r) => r.account === account).sort(newestFirst);
  }

  /** Every object of every account, as stored (for saving the state). */
  records(): T[] {
    return [...this.byId.values()];
  }

  /** Puts back objects saved by `records()`, `seq` included. */
  restore(records: readonly T[]): void {
    for (const record of records) this.byId.set(record.id, record);
  }
}

export function newestFirst(a: Stored, b: Stored): number {
  return b.created - a.created || b.seq - a.seq;
}

export class Store {
  /** The last `seq` given out; saved with the state so restored objects keep their order. */
  seq = 0;
  private readonly next = () => ++this.seq;
  /** The account a request without `Stripe-Account` acts on, then its connected accounts. */
  readonly accounts: Set<string>;

  readonly customers = new Collection<CustomerRecord>("customer", this.next);
  readonly sources = new Collection<CardRecord>("source", this.next);
  readonly paymentMethods = new Collection<CardRecord>("PaymentMethod", this.next);
  readonly charges = new Collection<ChargeRecord>("charge", this.next);
  readonly paymentIntents = new Collection<PaymentIntentRecord>("payment_intent", this.next);
  readonly refunds = new Collection<RefundRecord>("refund", this.next);
  readonly products = new Collection<ProductRecord>("product", this.next);
  readonly prices = new Collection<PriceRecord>("price", this.next);
  readonly subscriptions = new Collection<SubscriptionRecord>("subscription", this.next);
  readonly invoices = new Collection<InvoiceRecord>("invoice", this.next);
  readonly disputes = new Collection<DisputeRecord>("dispute", this.next);

  constructor(
    readonly platformAccount: string,
    connectedAccounts: readonly string[],
  ) {
    this.accounts = new Set([platformAccount, ...connectedAccounts]);
  }

  /** Every collection by name: what the state file holds. */
  collections(): Record<CollectionName, SavedCollection> {
    const all = {} as Record<CollectionName, SavedCollection>;
    for (const name of COLLECTION_NAMES) all[name] = this[name];
    return all;
  }
}

/** What saving and restoring the state needs of a collection. */
export interface SavedCollection {
  records(): Stored[];
  restore(records: readonly Stored[]): void;
}

export const COLLECTION_NAMES = [
  "customers",
  "sources",
  "paymentMethods",
  "charges",
  "paymentIntents",
  "refunds",
  "products",
  "prices",
  "subscriptions",
  "invoices",
  "disputes",
] as const;

export type CollectionName = (typeof COLLECTION_NAMES)[number];
