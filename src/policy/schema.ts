import { z } from "zod";

/**
 * The policy file format. A policy is data: YAML under `policies/`, validated here,
 * strict everywhere (an unknown field is an error, never silently ignored).
 * Documented for operators in `policies/README.md`.
 */

const currencyCode = z
  .string()
  .regex(/^[a-zA-Z]{3}$/, "a three-letter ISO currency code such as usd")
  .transform((code) => code.toLowerCase());

/** Major units of the cap currency: `250` means 250.00. */
const majorAmount = z.number().nonnegative().finite();

/** `30m`, `8h`, `1d`; kept as text in the policy, converted by `parseDuration`. */
export const durationText = z.string().regex(/^\d+(s|m|h|d)$/, "a duration such as 30m, 8h or 1d");

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** A rule on one argument (or on an attribute the tool derives, such as `refund_fraction`). */
export const paramRuleSchema = z
  .object({
    in: z.array(scalar).min(1).optional(),
    equals: scalar.optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
  })
  .strict()
  .refine((rule) => Object.keys(rule).length > 0, "at least one of in, equals, min, max");

const callLimits = {
  /** Most calls of this tool in one session. */
  calls_per_session: z.number().int().positive().optional(),
  /** Most calls of this tool per rolling hour, across every session of the agent. */
  calls_per_hour: z.number().int().positive().optional(),
};

export const toolPolicySchema = z
  .object({
    params: z.record(z.string(), paramRuleSchema).optional(),
    ...callLimits,
  })
  .strict();

/**
 * A call that needs a person's yes: a tool name, or a tool whose parameters match every
 * rule given (`{ tool: cancel_subscription, params: { at_period_end: { equals: false } } }`).
 */
export const approvalRuleSchema = z.preprocess(
  (entry) => (typeof entry === "string" ? { tool: entry } : entry),
  z
    .object({
      tool: z.string(),
      params: z.record(z.string(), paramRuleSchema).optional(),
    })
    .strict(),
);

export const customerScopeSchema = z.union([
  z.literal("all"),
  z
    .object({
      /** Only these customers. */
      ids: z.array(z.string().regex(/^cus_/, "a customer id (cus_…)")).min(1).optional(),
      /** Only customers whose metadata has every one of these values, e.g. `tenant: acme`. */
      metadata: z.record(z.string(), z.string()).optional(),
      /** Only customers whose email is in one of these domains. */
      email_domains: z.array(z.string().min(1)).min(1).optional(),
      /** Objects with no customer at all (a guest charge) are denied unless this is true. */
      allow_no_customer: z.boolean().default(false),
    })
    .strict()
    .refine(
      (scope) => scope.ids || scope.metadata || scope.email_domains,
      "at least one of ids, metadata, email_domains (or `customers: all`)",
    ),
]);

export const policySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, - and _"),
    description: z.string().optional(),
    /** `test` refuses live keys. */
    mode: z.enum(["test", "live"]),
    /** `mask` (default) masks emails, phones and addresses in tool results. */
    pii: z.enum(["mask", "reveal"]).default("mask"),
    /** The allowed tools; a tool not listed is not allowed. */
    tools: z.record(
      z.string(),
      toolPolicySchema.nullable().transform((t) => t ?? {}),
    ),
    caps: z
      .object({
        currency: currencyCode.default("usd"),
        per_call: majorAmount.optional(),
        per_session: majorAmount.optional(),
        per_day: majorAmount.optional(),
        per_customer_per_day: majorAmount.optional(),
        /** Subscription cancellations (no money moves now) are capped by count. */
        cancellations_per_session: z.number().int().nonnegative().optional(),
        cancellations_per_day: z.number().int().nonnegative().optional(),
      })
      .strict()
      .default({ currency: "usd" }),
    /** Defaults for every tool; a tool's own entry overrides them. */
    limits: z.object(callLimits).strict().default({}),
    customers: customerScopeSchema,
    /** Connected accounts (`Stripe-Account`) the agent may act on; none means the platform only. */
    connected_accounts: z.array(z.string().regex(/^acct_/, "an account id (acct_…)")).default([]),
    /** Rates into the cap currency: `eur: 1.08` means 1 EUR = 1.08 of the cap currency. */
    fx: z
      .record(
        z.string().regex(/^[a-zA-Z]{3}$/, "a three-letter ISO currency code"),
        z.number().positive().finite(),
      )
      .default({}),
    session_ttl: durationText.optional(),
    /**
     * Most guard sessions the agent may open in a rolling 24 hours, whatever the
     * transport: each session has its own session cap, so this bounds how often an agent
     * can start one afresh.
     */
    sessions_per_day: z.number().int().positive().optional(),
    expires_at: z.coerce.date().optional(),
    /** Money-moving calls above this amount (cap currency, major units) need a human yes. */
    require_approval_over: majorAmount.optional(),
    /** Tools (or tools with matching parameters) that need a human yes whatever the amount. */
    require_approval_for: z.array(approvalRuleSchema).default([]),
    /** How long a request waits for a decision, and how long a decision holds once made. */
    approval_ttl: durationText.default("15m"),
    /** How long a call waits for the person to answer in the MCP client (elicitation). */
    approval_timeout: durationText.default("50s"),
    /**
     * Who may say yes: `client` (the MCP client's user, asked in-band), `operator` (the
     * out-of-band queue) or `either`. Unset: `operator` over HTTP, where the client may be
     * the agent itself, and `client` over stdio (see `approvalPaths`).
     */
    approval_via: z.enum(["operator", "client", "either"]).optional(),
  })
  .strict();

export type Policy = z.output<typeof policySchema>;
export type ParamRule = z.output<typeof paramRuleSchema>;
export type CustomerScope = z.output<typeof customerScopeSchema>;
