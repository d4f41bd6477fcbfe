import type { z } from "zod";

/**
 * Turns schema issues into messages an operator can act on: the field's path as written
 * in the file (`tools.issue_refund.params.reason.in`) and what was expected there,
 * including the fields that *are* allowed when an unknown one was found.
 */

export type PolicyPath = readonly (string | number)[];

export interface PolicyProblem {
  path: PolicyPath;
  expected: string;
}

export function formatPath(path: PolicyPath): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text ? `.${key}` : key;
  }
  return text || "(top level)";
}

/** The field names an object schema accepts at `path`, or `undefined` if it is not an object there. */
function fieldsAt(schema: z.core.$ZodType, path: PolicyPath): string[] | undefined {
  let node: z.core.$ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (!node) return undefined;
    node = unwrap(childOf(node, key));
  }
  const object = node && objectIn(node);
  return object ? Object.keys(object._zod.def.shape) : undefined;
}

/** Problems (one per bad field) from a failed parse of `input` against `schema`. */
export function describeIssues(
  schema: z.core.$ZodType,
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
): PolicyProblem[] {
  return issues.flatMap((issue) =>
    describeIssue(
      schema,
      issue,
      issue.path.map((key) => (typeof key === "symbol" ? String(key) : key)),
      input,
    ),
  );
}

function describeIssue(
  schema: z.core.$ZodType,
  issue: z.core.$ZodIssue,
  path: PolicyPath,
  input: unknown,
): PolicyProblem[] {
  const got = valueAt(input, path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = fieldsAt(schema, path);
      const hint = allowed ? `; expected one of: ${allowed.join(", ")}` : "";
      return issue.keys.map((key) => ({
        path: [...path, key],
        expected: `unknown field${suggestion(key, allowed)}${hint}`,
      }));
    }
    case "invalid_type": {
      const fields = issue.expected === "object" ? fieldsAt(schema, path) : undefined;
      const what = fields ? `a mapping with fields ${fields.join(", ")}` : article(issue.expected);
      return [
        {
          path,
          expected:
            got === undefined
              ? `required field is missing (expected ${what})`
              : `expected ${what}, got ${show(got)}`,
        },
      ];
    }
    case "invalid_value":
      return [
        {
          path,
          expected: `expected ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${show(got)}`,
        },
      ];
    case "invalid_union":
      return [
        { path, expected: `expected ${unionAlternatives(schema, issue, path)}, got ${show(got)}` },
      ];
    case "too_small":
    case "too_big":
      return [
        { path, expected: `${issue.message.replace(/^Too (small|big): /, "")}, got ${show(got)}` },
      ];
    case "invalid_format":
    case "custom":
      return [{ path, expected: `expected ${issue.message}, got ${show(got)}` }];
    default:
      return [{ path, expected: issue.message }];
  }
}

/** `"all" or a mapping with fields ids, metadata, …`: what each branch of a union wanted. */
function unionAlternatives(
  schema: z.core.$ZodType,
  issue: z.core.$ZodIssueInvalidUnion,
  path: PolicyPath,
): string {
  const wanted = issue.errors.map((branch) => {
    const root = branch.find((inner) => inner.path.length === 0);
    if (root?.code === "invalid_value")
      return root.values.map((v) => JSON.stringify(v)).join(" or ");
    if (root?.code === "invalid_type" && root.expected === "object") {
      const fields = fieldsAt(schema, path);
      return fields ? `a mapping with fields ${fields.join(", ")}` : "a mapping";
    }
    if (root?.code === "invalid_type") return article(root.expected);
    return "another form";
  });
  return [...new Set(wanted)].join(" or ");
}

function childOf(node: z.core.$ZodType, key: string | number): z.core.$ZodType | undefined {
  const def = (node as z.core.$ZodTypes)._zod.def;
  switch (def.type) {
    case "object":
      return typeof key === "string" ? def.shape[key] : undefined;
    case "record":
      return def.valueType;
    case "array":
      return def.element;
    case "union": {
      const object = objectIn(node);
      return object && typeof key === "string" ? object._zod.def.shape[key] : undefined;
    }
    default:
      return undefined;
  }
}

/** The object schema in `node` itself or among its union options (`customers: all | {…}`). */
function objectIn(node: z.core.$ZodType): z.core.$ZodObject | undefined {
  const def = (node as z.core.$ZodTypes)._zod.def;
  if (def.type === "object") return node as z.core.$ZodObject;
  if (def.type === "union") {
    for (const option of def.options) {
      const found = objectIn(unwrap(option) ?? option);
      if (found) return found;
    }
  }
  return undefined;
}

/** Looks through optional/default/nullable/transform wrappers to the schema that validates. */
function unwrap(node: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = node;
  for (;;) {
    if (!current) return undefined;
    const def = (current as z.core.$ZodTypes)._zod.def;
    switch (def.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
        current = def.innerType;
        break;
      case "pipe": {
        // `.transform()` pipes the validating schema into a transform; `preprocess` the
        // other way round.
        const first = (def.in as z.core.$ZodTypes)._zod.def.type;
        current = first === "transform" ? def.out : def.in;
        break;
      }
      default:
        return current;
    }
  }
}

function valueAt(input: unknown, path: PolicyPath): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `per_dya` → ` (did you mean per_day?)`: the typo operators make most. */
function suggestion(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed) return "";
  let best: { name: string; distance: number } | undefined;
  for (const name of allowed) {
    const distance = editDistance(key, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best ? ` (did you mean ${best.name}?)` : "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
