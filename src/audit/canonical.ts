/**
 * One JSON text per value: object keys sorted at every depth, no whitespace. Two equal
 * argument sets give the same text, hence the same idempotency key and the same hash.
 * `undefined` members are dropped, as JSON itself drops them.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    // No prototype: an agent's `__proto__` key stays a key instead of becoming one.
    const sorted = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value).sort()) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner !== undefined) sorted[key] = sortKeys(inner);
    }
    return sorted;
  }
  return value;
}
