import { redactSecrets } from "./redact.js";

/**
 * Outside text (an agent's above all) as spendguard stores and shows it. Stored, it is
 * well-formed, redacted and bounded: a lone UTF-16 surrogate becomes U+FFFD before the
 * audit hashes a row, since SQLite (like any UTF-8 store) would store U+FFFD anyway and the
 * hash must cover exactly what is kept. Shown to a person, control characters and the
 * invisible ones that reorder or hide text are escaped, so no text can move a terminal's
 * cursor, erase or conceal rows, or forge a line.
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/** C0 and C1 controls, DEL, zero-width and bidi controls, line and paragraph separators. */
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point.
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** Every lone surrogate replaced by U+FFFD, as a UTF-8 store would keep it. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATES, "\ufffd");
}

/** For a terminal or a table: well-formed, every control character as a visible escape. */
export function printable(text: string): string {
  return wellFormed(text).replace(
    UNPRINTABLE,
    (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Text of several lines for a person: each line printable, the line breaks kept. */
export function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}

/** At most `max` UTF-16 units, never cutting a surrogate pair in two. */
export function clip(text: string, max: number, marker = "…"): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}${marker}`;
}

const MAX_NAME = 200;
const MAX_REASON = 500;

/** A name the agent chose (an unknown tool's), as the audit keeps it: printable, redacted, bounded. */
export function agentName(name: string): string {
  return clip(printable(redactSecrets(name)), MAX_NAME, "…[truncated]");
}

/** A reason a person or an agent gave (a kill, an approval), as it is stored: redacted and bounded. */
export function cleanReason(reason: string): string {
  return clip(wellFormed(redactSecrets(reason.trim())), MAX_REASON, "");
}
