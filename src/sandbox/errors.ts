import type { JsonObject } from "./json.js";

/** Stripe's `error.type` values (v1 API). */
export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error";

export interface StripeErrorDetail {
  code?: string;
  param?: string;
  /** Extra fields Stripe puts in the error object (`decline_code`, `charge`, `payment_intent`…). */
  extra?: JsonObject;
  /** Response headers that go with this error (`Stripe-Should-Retry`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

/** A refusal the sandbox answers with Stripe's error envelope and status. */
export class StripeHttpError extends Error {
  override name = "StripeHttpError";
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly detail: StripeErrorDetail = {},
  ) {
    super(message);
  }
}

/** `{ "error": { … } }` as Stripe sends it, keys in Stripe's (alphabetical) order. */
export function errorEnvelope(
  error: StripeHttpError,
  requestId: string,
  nowSeconds: number,
): JsonObject {
  const { code, param, extra } = error.detail;
  const body: JsonObject = {
    ...(code
      ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}` }
      : {}),
    ...extra,
    message: error.message,
    ...(param !== undefined ? { param } : {}),
    request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${nowSeconds}`,
    type: error.type,
  };
  return { error: body };
}

export function invalidRequest(
  message: string,
  detail: StripeErrorDetail & { status?: number } = {},
): StripeHttpError {
  const { status = 400, ...rest } = detail;
  return new StripeHttpError(status, "invalid_request_error", message, rest);
}

/** `No such charge: 'ch_x'` — the noun is Stripe's (charge, customer, payment_intent, …). */
export function resourceMissing(noun: string, id: string, param = "id"): StripeHttpError {
  return invalidRequest(`No such ${noun}: '${id}'`, {
    status: 404,
    code: "resource_missing",
    param,
  });
}

export function parameterMissing(param: string): StripeHttpError {
  return invalidRequest(`Missing required param: ${param}.`, { code: "parameter_missing", param });
}

export function parameterUnknown(param: string): StripeHttpError {
  return invalidRequest(`Received unknown parameter: ${param}`, {
    code: "parameter_unknown",
    param,
  });
}

export function unrecognizedUrl(method: string, path: string): StripeHttpError {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    { status: 404 },
  );
}
