import { z } from "zod";
import { invalidRequest, StripeHttpError } from "./errors.js";

/**
 * Faults injected into the next matching requests, in order: a status (500/502/503, or 429
 * with `rate_limit` / `lock_timeout`), a connection reset, a request that never answers,
 * or extra latency. `afterApply` lets the write happen first and only then fails the
 * response — the case where a client sees an error but the money moved.
 */
export interface FaultRule {
  /** Any method when left out. */
  method?: string;
  /** An exact path, or a glob with `*` (`/v1/refunds*`). The query string is not part of it. */
  path: string;
  /** How many matching requests it applies to (default 1). */
  times?: number;
  kind: "status" | "reset" | "hang" | "latency";
  /** For `status` (default 500). */
  status?: 500 | 502 | 503 | 429;
  /** For a 429 (default `rate_limit`). */
  code?: "lock_timeout" | "rate_limit";
  /** For `latency`. */
  latencyMs?: number;
  afterApply?: boolean;
}

export interface ActiveFault extends FaultRule {
  /** Matching requests it still applies to. */
  remaining: number;
}

export interface FaultController {
  add(rule: FaultRule): void;
  clear(): void;
  list(): ReadonlyArray<ActiveFault>;
}

const faultRuleSchema = z
  .object({
    method: z.string().min(1).optional(),
    path: z.string().startsWith("/"),
    times: z.number().int().positive().optional(),
    kind: z.enum(["status", "reset", "hang", "latency"]),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(429)]).optional(),
    code: z.enum(["lock_timeout", "rate_limit"]).optional(),
    latencyMs: z.number().int().nonnegative().max(600_000).optional(),
    afterApply: z.boolean().optional(),
  })
  .strict()
  .refine(
    (rule) => rule.kind === "status" || (rule.status === undefined && rule.code === undefined),
    {
      message: "status and code apply to kind 'status' only",
    },
  )
  .refine((rule) => rule.code === undefined || rule.status === 429, {
    message: "code applies to status 429 only",
  })
  .refine((rule) => (rule.kind === "latency") === (rule.latencyMs !== undefined), {
    message: "latencyMs is required for kind 'latency', and only for it",
  });

interface Armed extends ActiveFault {
  matches: (method: string, path: string) => boolean;
}

export class FaultList implements FaultController {
  private armed: Armed[] = [];

  /** Throws a ZodError when the rule is not valid. */
  add(rule: FaultRule): void {
    const parsed: FaultRule = faultRuleSchema.parse(rule);
    const pattern = globPattern(parsed.path);
    const method = parsed.method?.toUpperCase();
    this.armed.push({
      ...parsed,
      remaining: parsed.times ?? 1,
      matches: (m, p) => (method === undefined || method === m) && pattern.test(p),
    });
  }

  clear(): void {
    this.armed = [];
  }

  list(): ReadonlyArray<ActiveFault> {
    return this.armed.map(({ matches: _, ...fault }) => ({ ...fault }));
  }

  /** The fault for this request, if any: the first matching rule with uses left, used up by one. */
  take(method: string, path: string): FaultRule | undefined {
    const fault = this.armed.find((f) => f.remaining > 0 && f.matches(method, path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.armed = this.armed.filter((f) => f.remaining > 0);
    const { matches: _, remaining: __, ...rule } = fault;
    return rule;
  }
}

function globPattern(glob: string): RegExp {
  const escaped = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

/** The error a `status` fault answers with, as Stripe would send it. */
export function faultError(rule: FaultRule): StripeHttpError {
  const status = rule.status ?? 500;
  if (status === 429) {
    return (rule.code ?? "rate_limit") === "lock_timeout"
      ? invalidRequest(
          "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate. See https://stripe.com/docs/rate-limits for more information.",
          { status, code: "lock_timeout", headers: { "Stripe-Should-Retry": "true" } },
        )
      : invalidRequest(
          "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
          { status, code: "rate_limit" },
        );
  }
  return new StripeHttpError(
    status,
    "api_error",
    status === 500
      ? "An unknown error occurred"
      : "Stripe is temporarily unavailable. Please try again later.",
  );
}
