import { printable } from "../audit/text.js";
import { formatMoney } from "../money/currency.js";

/**
 * Terminal output for people: aligned tables, colour only on a terminal (and never with
 * NO_COLOR set), times and money written one way across every command.
 */

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const SGR = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 } as const;

/** Colour when `stream` is a terminal and `NO_COLOR` is unset (https://no-color.org). */
export function styleFor(stream: NodeJS.WritableStream, env: NodeJS.ProcessEnv): Style {
  const enabled = (stream as { isTTY?: boolean }).isTTY === true && !env.NO_COLOR;
  const paint = (code: number) => (text: string) =>
    enabled && text !== "" ? `\u001b[${code}m${text}\u001b[0m` : text;
  return {
    enabled,
    bold: paint(SGR.bold),
    dim: paint(SGR.dim),
    red: paint(SGR.red),
    green: paint(SGR.green),
    yellow: paint(SGR.yellow),
    cyan: paint(SGR.cyan),
  };
}

/** Width on screen: colour escapes take none. */
function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape itself.
  return text.replace(/\u001b\[[0-9;]*m/g, "").length;
}

export type Align = "left" | "right";

export interface TableOptions {
  /** Per column; default left. */
  align?: readonly Align[];
  /** Colours a cell (after its text is made printable): the only escapes a table holds. */
  paint?: (text: string, row: number, column: number) => string;
  /** Indent of every line. */
  indent?: string;
  /** Applied to the header cells (after padding). */
  header?: (text: string) => string;
  /** Cut the last column's cells so lines fit this width (a terminal's columns). */
  maxWidth?: number;
}

/**
 * Aligned columns separated by two spaces; the header row first. Every cell is made
 * printable (stored text may be an agent's: no escape in it reaches the terminal); colour
 * comes only from `paint`.
 */
export function table(
  headers: readonly string[],
  cellsOf: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const paint = options.paint ?? ((text: string) => text);
  const rows = cellsOf.map((row, r) => row.map((cell, c) => paint(printable(cell), r, c)));
  const indent = options.indent ?? "";
  const widths = headers.map((h, i) =>
    Math.max(visibleLength(h), ...rows.map((row) => visibleLength(row[i] ?? ""))),
  );
  const last = headers.length - 1;
  const pad = (text: string, i: number) => {
    const gap = " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(text)));
    if (i === last && options.align?.[i] !== "right") return text;
    return options.align?.[i] === "right" ? gap + text : text + gap;
  };
  // Room left for the last column on a terminal; only that column is ever cut.
  const prefix = indent.length + widths.slice(0, last).reduce((sum, w) => sum + w + 2, 0);
  const room = options.maxWidth === undefined ? undefined : Math.max(10, options.maxWidth - prefix);
  const cut = (text: string) =>
    room !== undefined && visibleLength(text) > room && !hasEscapes(text)
      ? `${text.slice(0, room - 1)}…`
      : text;
  const line = (cells: readonly string[]) =>
    (indent + cells.map((cell, i) => pad(i === last ? cut(cell) : cell, i)).join("  ")).trimEnd();
  const head = line(headers);
  return [options.header ? options.header(head) : head, ...rows.map((row) => line(row)), ""].join(
    "\n",
  );
}

function hasEscapes(text: string): boolean {
  return text.includes("\u001b[");
}

/** `a, b, c` in lines of at most `width` columns, each starting with `indent` (help texts). */
export function wrapWords(words: readonly string[], indent: string, width = 88): string {
  const lines: string[] = [];
  let line = "";
  words.forEach((word, i) => {
    const item = i < words.length - 1 ? `${word},` : word;
    if (line && indent.length + line.length + 1 + item.length > width) {
      lines.push(indent + line);
      line = item;
    } else {
      line = line ? `${line} ${item}` : item;
    }
  });
  if (line) lines.push(indent + line);
  return lines.join("\n");
}

/** `2025-06-01 09:14:03` (UTC, seconds) from an ISO time or ms since the epoch. */
export function formatTime(at: string | number): string {
  const iso = typeof at === "number" ? new Date(at).toISOString() : at;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** Money in the cap currency; raw minor units when the currency is not known. */
export function money(amount: number, currency: string | null): string {
  if (currency) return formatMoney(amount, currency);
  return amount === 0 ? "0" : `${amount} (minor units)`;
}

/** `ses_3f9a…` → the first 12 characters, enough to tell sessions apart and to type. */
export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

const watched = new WeakSet<object>();
const closed = new WeakSet<object>();

/**
 * `spendguard audit --json | head` closes the pipe early: that ends the output, it is not
 * a crash. Other write errors are reported once on stderr and fail the command.
 */
export function tolerateClosedPipe(stream: NodeJS.WritableStream): void {
  if (watched.has(stream) || typeof stream.on !== "function") return;
  watched.add(stream);
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (closed.has(stream)) return;
    closed.add(stream);
    if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") {
      process.stderr.write(`spendguard: cannot write the output: ${error.message}\n`);
      process.exitCode = 1;
    }
  });
}

/**
 * Writes one line and waits while the stream's buffer is full, so exports of any size
 * stream in constant memory. False once the reader has gone: stop writing.
 */
export async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<boolean> {
  tolerateClosedPipe(stream);
  if (closed.has(stream)) return false;
  if (!stream.write(`${line}\n`)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off("drain", done);
        stream.off("error", done);
        stream.off("close", done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("error", done);
      stream.on("close", done);
    });
  }
  return !closed.has(stream);
}

/** The terminal's width when stdout is one; otherwise no limit. */
export function terminalWidth(stream: NodeJS.WritableStream): number | undefined {
  const tty = stream as { isTTY?: boolean; columns?: number };
  return tty.isTTY && tty.columns ? tty.columns : undefined;
}
