import { z } from "zod";
import type { AnyTool } from "../../tools/tool.js";
import { redactSecrets } from "../audit/redact.js";
import { clip, isWellFormed, printable } from "../audit/text.js";

/**
 * The schemas an agent sees, built from the tool's own: strict input (an unknown argument
 * is an error, never silently dropped — `amount_usd` must not become a full refund), the
 * optional `stripe_account` when the policy lists connected accounts, and a `spendguard`
 * block on write results.
 */

export function agentInputSchema(tool: AnyTool, connectedAccounts: readonly string[]): z.ZodObject {
  const strict = tool.input.strict();
  if (tool.kind === "session" || connectedAccounts.length === 0) return strict;
  return strict.safeExtend({
    stripe_account: z
      .string()
      .max(255)
      .regex(/^acct_[A-Za-z0-9]+$/, "a connected account id (acct_…)")
      .optional()
      .describe(
        `Connected account (Stripe-Account) to act on: one of ${connectedAccounts.join(", ")}. Leave it out for the platform account.`,
      ),
  });
}

/**
 * Strict function calling (OpenAI's `strict: true` tools) makes every property required
 * and the optional ones nullable, so a model sends `"payment_intent": null` for "not
 * given". An optional argument given as `null` is taken out, at every depth, before the
 * schema checks the call: both forms parse alike, so they are one call with one
 * idempotency key. A required argument sent as `null` stays, and is refused.
 */
export function withoutNullOptionals(schema: z.ZodObject, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).flatMap(([name, inner]) => {
      const field = schema.shape[name] as z.ZodType | undefined;
      if (field === undefined) return [[name, inner]];
      if (inner === null && field.safeParse(undefined).success) return [];
      const object = unwrapObject(field);
      return [[name, object ? withoutNullOptionals(object, inner) : inner]];
    }),
  );
}

const spendguardBlock = z
  .object({
    replayed: z
      .boolean()
      .describe(
        "true when this repeated an earlier identical call: its first result came back and nothing was done twice.",
      ),
    cap_currency: z.string(),
    session_left: z
      .number()
      .int()
      .nullable()
      .describe(
        "What is left of the session cap, in the cap currency's smallest unit (null: no cap).",
      ),
    day_left: z
      .number()
      .int()
      .nullable()
      .describe(
        "What is left of the rolling 24-hour cap, in the cap currency's smallest unit (null: no cap).",
      ),
  })
  .describe("What spendguard adds: whether this was a replay, and what is left of the caps.");

export type SpendguardBlock = z.output<typeof spendguardBlock>;

export function agentOutputSchema(tool: AnyTool): z.ZodObject {
  if (tool.kind !== "write") return tool.output;
  return tool.output.safeExtend({ spendguard: spendguardBlock.optional() });
}

/** `Invalid arguments for issue_refund: amount: expected number, received string.` */
export function describeInvalidArguments(
  tool: string,
  schema: z.ZodObject,
  error: z.ZodError,
): string {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "arguments";
    if (issue.code === "unrecognized_keys") {
      // The names are the agent's own text: any length, any characters. Shown clipped and
      // quoted, never whole, so a refusal (and its audit row) stays small and readable.
      const known = Object.keys(objectAt(schema, issue.path)?.shape ?? {});
      const names = issue.keys.slice(0, MAX_NAMES_SHOWN).map(quoteName).join(", ");
      const more =
        issue.keys.length > MAX_NAMES_SHOWN
          ? ` and ${issue.keys.length - MAX_NAMES_SHOWN} more`
          : "";
      const inside = issue.path.length > 0 ? `${where}: ` : "";
      return `${inside}unknown argument${issue.keys.length > 1 ? "s" : ""} ${names}${more} (known: ${known.join(", ") || "none"})`;
    }
    return `${where}: ${issue.message.replace(/^Invalid (input|option): /, "")}`;
  });
  return `Invalid arguments for ${tool}: ${problems.join("; ")}.`;
}

/**
 * Argument names that JavaScript objects treat as more than a name: `__proto__` is
 * dropped (or sets the prototype) when an object is copied, so `{charge, __proto__:
 * {amount}}` could lose its amount and become a full refund. Refused at any depth.
 */
const FORBIDDEN_NAMES = new Set(["__proto__", "constructor", "prototype"]);

/** The first forbidden argument name anywhere in the arguments as sent, if any. */
export function forbiddenArgumentName(rawArgs: unknown): string | undefined {
  // A loop, not recursion: the body may nest as deep as its size allows.
  const pending: unknown[] = [rawArgs];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
      continue;
    }
    for (const name of Object.keys(value)) {
      if (FORBIDDEN_NAMES.has(name)) return name;
      pending.push((value as Record<string, unknown>)[name]);
    }
  }
  return undefined;
}

/**
 * The first string in the arguments, name or value, that is not well-formed Unicode (a
 * lone UTF-16 surrogate), as a path: such text cannot be sent to Stripe (the SDK's form
 * encoding throws on it) nor stored as it came.
 */
export function malformedTextAt(rawArgs: unknown): string | undefined {
  const pending: { value: unknown; path: string }[] = [{ value: rawArgs, path: "" }];
  while (pending.length > 0) {
    const { value, path } = pending.pop() as { value: unknown; path: string };
    if (typeof value === "string") {
      if (!isWellFormed(value))
        return path ? printable(redactSecrets(clip(path, 100))) : "arguments";
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    for (const [name, inner] of Object.entries(value)) {
      const at = Array.isArray(value) ? `${path}[${name}]` : path ? `${path}.${name}` : name;
      if (!isWellFormed(name)) {
        return `${path ? `${printable(redactSecrets(clip(path, 100)))}: ` : ""}an argument name`;
      }
      pending.push({ value: inner, path: at });
    }
  }
  return undefined;
}

const MAX_NAMES_SHOWN = 5;
const MAX_NAME_CHARS = 40;

/**
 * A name the agent chose (an argument, a tool), as JSON text for a message: clipped,
 * redacted, with every control and invisible character escaped so it shows.
 */
export function quoteName(name: string): string {
  return printable(JSON.stringify(redactSecrets(clip(name, MAX_NAME_CHARS))));
}

/** The object schema at a path of the arguments (optional and default wrappers looked through). */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of path) {
    const object = unwrapObject(current);
    current = object?.shape[key as string] as z.ZodType | undefined;
  }
  return unwrapObject(current);
}

function unwrapObject(schema: z.ZodType | undefined): z.ZodObject | undefined {
  let current = schema;
  while (current && !(current instanceof z.ZodObject)) {
    const inner = (current._zod.def as { innerType?: z.ZodType }).innerType;
    if (!inner) return undefined;
    current = inner;
  }
  return current;
}
