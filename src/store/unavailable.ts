/**
 * Whether a store failure means the store cannot be reached (as opposed to a bug): a
 * database file that cannot be opened, read or written, a lock that never came, a
 * connection refused or lost. `code` names it for people.
 */

const SQLITE_UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/;
const NETWORK = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EAI_AGAIN",
]);
/** PostgreSQL SQLSTATE classes: connection exception, insufficient resources, operator intervention. */
const POSTGRES_UNAVAILABLE = /^(08|53|57P)/;

export function storeUnavailableCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (SQLITE_UNAVAILABLE.test(code) || NETWORK.has(code) || POSTGRES_UNAVAILABLE.test(code)) {
      return code;
    }
  }
  if (/database connection is not open/i.test(err.message)) return "not_open";
  return undefined;
}
