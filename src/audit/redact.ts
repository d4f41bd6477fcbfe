/**
 * Secrets never reach logs, audit rows, tool results or errors. Everything that turns
 * outside text (Stripe messages, arguments, exceptions) into something we show or store
 * passes through here.
 */

/**
 * Stripe secret/restricted/publishable keys, spendguard agent and operator keys, webhook
 * secrets, bearer tokens. Keys are matched anywhere in a token, not only at a word
 * boundary: `ch_rk_live_…` (a key pasted into an id) must not keep the key in clear.
 */
const SECRET_PATTERN =
  /(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*_]+|sg_(?:agent|op)_[A-Za-z0-9_-]+|whsec_[A-Za-z0-9]+|\bBearer\s+[A-Za-z0-9._~+/=-]+/g;

export const REDACTED = "[redacted]";

export function redactSecrets(text: string): string {
  return text.replace(SECRET_PATTERN, REDACTED);
}

/** Argument names whose values are never stored or shown, whatever they contain. */
const SECRET_FIELD =
  /(api[_-]?key|secret|password|token|authorization|cookie|card[_-]?number|cvc)/i;

/**
 * A deep copy with secret-looking fields replaced and secret-looking strings scrubbed,
 * names included: an agent may paste a key into an argument's name as well.
 */
export function redactValue(value: unknown): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        redactSecrets(key),
        SECRET_FIELD.test(key) ? REDACTED : redactValue(inner),
      ]),
    );
  }
  return value;
}
