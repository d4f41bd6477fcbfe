import type Stripe from "stripe";
import type { z } from "zod";
import type { SpendguardError } from "../src/errors.js";
import type { Money } from "../src/money/currency.js";
import type { ParamRule } from "../src/policy/schema.js";
import type { CustomerFacts } from "../src/policy/scope.js";

export { SpendguardError } from "../src/errors.js";
export type { CustomerFacts, Money };

/**
 * The contract every tool file fulfils. A tool declares everything the guard needs —
 * permissions, how it finds the customer, the money it moves — so adding a tool never
 * touches the guard.
 */

/** Stripe's Restricted Key resources, with Stripe's plural names. */
export type StripeResource =
  | "charges"
  | "refunds"
  | "customers"
  | "payment_intents"
  | "subscriptions"
  | "invoices"
  | "disputes"
  | "balance"
  | "files";

export type PermissionLevel = "read" | "write";
export type StripePermissions = Partial<Record<StripeResource, PermissionLevel>>;

/**
 * What a tool finds out (usually by reading Stripe) before the guard decides.
 * `T` is whatever the handler wants to reuse, such as the charge already fetched.
 */
export interface Resolution<T = undefined> {
  /** Whose object this is; `null` for an object with no customer (a guest charge). */
  customer: CustomerFacts | null;
  /** Money this call would move, if it moves money. */
  moves?: Money;
  /** Monthly recurring revenue this call puts at risk (a cancellation moves no money now). */
  revenueAtRisk?: Money;
  /** Values that policy parameter rules may test besides the arguments, e.g. `refund_fraction`. */
  attributes?: Record<string, string | number | boolean>;
  /**
   * Why the call cannot go ahead, found while reading (a payment intent with no charge, a
   * deleted customer). The guard refuses with it only once customer scope has passed, so
   * an agent learns nothing about the state of an object outside its scope.
   */
  refusal?: SpendguardError;
  data: T;
}

/** What a tool's code may use. The guard builds it; a tool never sees keys or the store. */
export interface ToolContext {
  stripe: Stripe;
  /** Options for every Stripe request of this call (`Stripe-Account` when one is chosen). */
  requestOptions: Stripe.RequestOptions;
  /** Present on money-moving and other write calls: derived from session, tool and arguments. */
  idempotencyKey?: string;
  /**
   * Present on write calls: the admission the write belongs to. Every write stamps it on
   * what it changes (`stampOf`), so its outcome can later be found by reading Stripe.
   */
  admission?: string;
  /** `mask` unless the policy says `pii: reveal`. */
  pii: "mask" | "reveal";
}

export interface ToolResult<Output> {
  output: Output;
  /** One or two sentences for the agent; the structured output carries the details. */
  text: string;
  /** What Stripe reports it actually moved (settles the reservation). */
  moved?: Money;
  /** Stripe's request id of the write, for the audit. */
  stripeRequestId?: string;
}

/** The metadata key that names, on a Stripe object, the admission of the write that made it. */
export const ADMISSION_METADATA_KEY = "spendguard_admission";

/** `metadata` naming the write's admission, for a Stripe request that accepts metadata. */
export function stampOf(ctx: ToolContext): Record<string, string> {
  return ctx.admission ? { [ADMISSION_METADATA_KEY]: ctx.admission } : {};
}

/** Whether a Stripe object carries the stamp of this admission. */
export function stampedBy(
  object: { metadata?: Stripe.Metadata | null },
  admission: string,
): boolean {
  return object.metadata?.[ADMISSION_METADATA_KEY] === admission;
}

/** Stripe's request id behind an object the SDK returned (none for an item of a list). */
export function requestIdOf(object: object): string | undefined {
  return "lastResponse" in object
    ? (object as Stripe.Response<unknown>).lastResponse.requestId
    : undefined;
}

/**
 * What reading Stripe proves about an earlier write whose answer was lost: it applied (with
 * the result as the handler would have returned it), it surely did not, or it cannot tell.
 */
export type FoundOutcome<Output> =
  | { applied: "yes"; result: ToolResult<Output> }
  | { applied: "no"; why: string }
  | { applied: "unknown"; why: string };

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** Every read tool says the same: it changes nothing, may be repeated, and reaches Stripe. */
export const READ_ANNOTATIONS: ToolAnnotations = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
};

/**
 * - `read`: reads Stripe, moves nothing.
 * - `write`: changes Stripe; carries an idempotency key; `moves` money when its resolution says so.
 * - `session`: about the guard session itself (status, end); never reaches Stripe.
 */
export type ToolKind = "read" | "write" | "session";

/**
 * How a tool relates to customer scope:
 * - `customer`: every call touches one customer's objects, checked against the policy's scope;
 * - `filtered`: a list whose items the tool filters to the scope itself (via `ScopeFilter`);
 * - `account`: account-level data with no customer (the balance).
 */
export type ScopeKind = "customer" | "filtered" | "account";

/** Lets a list tool keep only in-scope items without knowing the policy. */
export type ScopeFilter = (customer: CustomerFacts | null) => boolean;

interface ToolBase<Input extends z.ZodObject, Output extends z.ZodObject> {
  name: string;
  title: string;
  /** Written for an LLM: what it does, what it will refuse, units of money. */
  description: string;
  input: Input;
  output: Output;
  annotations: ToolAnnotations;
  /** The minimum Restricted Key permissions the tool needs (also printed by `spendguard scopes`). */
  permissions: StripePermissions;
  /** Names of the values policy parameter rules may test: argument names and resolved attributes. */
  ruleParams: readonly string[];
  /**
   * Rules that apply unless the policy states its own rule for that parameter — a safe
   * default such as "cancel at period end only" that a policy may deliberately widen.
   */
  defaultParamRules?: Readonly<Record<string, ParamRule>>;
}

export interface StripeTool<Input extends z.ZodObject, Output extends z.ZodObject, Data>
  extends ToolBase<Input, Output> {
  kind: "read" | "write";
  scope: ScopeKind;
  /** Finds the customer and the money at stake. Runs before the decision; reads only. */
  resolve(ctx: ToolContext, args: z.output<Input>): Promise<Resolution<Data>>;
  /**
   * Does the work. Runs only after the guard allowed the call (and reserved its money).
   * Build Stripe parameters from `args` only (never from `resolved`): a replay with the
   * same idempotency key must send the very same parameters, or Stripe refuses it.
   */
  handle(
    ctx: ToolContext,
    args: z.output<Input>,
    resolved: Resolution<Data>,
    inScope: ScopeFilter,
  ): Promise<ToolResult<z.output<Output>>>;
  /**
   * Write tools: finds out, by reading Stripe only, what became of the write stamped with
   * `admission` (see `stampOf`). Used once Stripe may have forgotten the idempotency key,
   * or when a replay is not allowed any more. Say `no` only when Stripe's state proves the
   * write did not happen; anything less certain is `unknown`, and an operator decides.
   */
  findOutcome?(
    ctx: ToolContext,
    args: z.output<Input>,
    admission: string,
  ): Promise<FoundOutcome<z.output<Output>>>;
}

/** What a session tool may see and do; implemented by the guard. */
export interface SessionControl {
  status(): Promise<SessionStatusView>;
  /** Ends this session for good: every later call is refused. */
  end(reason: string): Promise<void>;
}

export interface CapView {
  /** Cap in the cap currency's minor unit. */
  cap: number;
  used: number;
  left: number;
}

export interface SessionStatusView {
  session_id: string;
  agent: string;
  policy: string;
  state: "active" | "killed" | "expired" | "ended";
  started_at: string;
  expires_at: string | null;
  cap_currency: string;
  caps: {
    per_call: number | null;
    per_session: CapView | null;
    per_day: CapView | null;
    per_customer_per_day: number | null;
  };
  calls: Record<string, number>;
  tools: string[];
}

export interface SessionTool<Input extends z.ZodObject, Output extends z.ZodObject>
  extends ToolBase<Input, Output> {
  kind: "session";
  handle(control: SessionControl, args: z.output<Input>): Promise<ToolResult<z.output<Output>>>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds tools of every input/output type.
export type AnyStripeTool = StripeTool<any, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: as above.
export type AnySessionTool = SessionTool<any, any>;
export type AnyTool = AnyStripeTool | AnySessionTool;

/** Identity functions that let TypeScript infer a tool's types from its declaration. */
export const defineTool = <Input extends z.ZodObject, Output extends z.ZodObject, Data>(
  tool: StripeTool<Input, Output, Data>,
): StripeTool<Input, Output, Data> => tool;

export const defineSessionTool = <Input extends z.ZodObject, Output extends z.ZodObject>(
  tool: SessionTool<Input, Output>,
): SessionTool<Input, Output> => tool;
