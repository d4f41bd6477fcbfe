import { ConfigError } from "../errors.js";
import { parseDuration } from "../policy/load.js";

/**
 * When an identity stops working, as an operator says it (`keys create --expires`, the
 * consent page): a duration from now (`30d`), an ISO date/time, or `never` (`null`). It
 * must lie ahead.
 */
export function parseExpiry(text: string, now: number): number | null {
  const trimmed = text.trim();
  if (trimmed === "never") return null;
  let at: number;
  if (/^\d+[smhd]$/.test(trimmed)) {
    at = now + parseDuration(trimmed);
  } else {
    at = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new ConfigError(
        `must be a duration (12h, 30d) or an ISO date (2026-12-31, 2026-12-31T18:00:00Z), got '${text}'`,
      );
    }
  }
  if (at <= now) throw new ConfigError(`must lie in the future, got '${text}'`);
  return at;
}
