import { invalidRequest } from "./errors.js";
import type { Json, JsonObject } from "./json.js";
import { EXPANDABLE, type ObjectType, READ_RESOURCE } from "./objects.js";
import type { SandboxResource } from "./permissions.js";
import type { Returns } from "./route.js";

/** Stripe expands at most four levels (`data.charge.customer.default_source`). */
const MAX_DEPTH = 4;

/**
 * Checks `expand[]` paths against what the endpoint returns, before anything runs: a bad
 * path or a missing read permission must refuse the request, not fail after a write.
 * `requireRead` throws Stripe's 403 when the key may not read the expanded resource.
 */
export function checkExpansions(
  paths: readonly string[],
  returns: Returns,
  requireRead: (resource: SandboxResource) => void,
): void {
  for (const path of paths) {
    const segments = path.split(".");
    if (segments.length > MAX_DEPTH) {
      throw invalidRequest(
        `You cannot expand more than ${MAX_DEPTH} levels of a property. Property: ${path}`,
        { param: "expand" },
      );
    }
    // A list's objects are reached through `data`.
    const prefix = typeof returns === "string" ? [] : ["data"];
    if (prefix.length > 0 && (segments[0] !== "data" || segments.length < 2)) {
      throw notExpandable(segments[0] ?? "");
    }
    let type: ObjectType = typeof returns === "string" ? returns : returns.list;
    const walked = [...prefix];
    for (const field of segments.slice(prefix.length)) {
      walked.push(field);
      const target = EXPANDABLE[type][field];
      if (target === undefined) throw notExpandable(walked.join("."));
      requireRead(READ_RESOURCE[target]);
      type = target;
    }
  }
}

function notExpandable(path: string) {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: "expand" });
}

/** Replaces ids by objects along each (already checked) path; ids it cannot find stay ids. */
export function applyExpansions(
  body: JsonObject,
  paths: readonly string[],
  lookup: (type: ObjectType, id: string) => JsonObject | undefined,
): JsonObject {
  for (const path of paths) expandPath(body, path.split("."), lookup);
  return body;
}

function expandPath(
  value: Json,
  segments: string[],
  lookup: (type: ObjectType, id: string) => JsonObject | undefined,
): void {
  const [field, ...rest] = segments;
  if (field === undefined || value === null || typeof value !== "object" || Array.isArray(value))
    return;
  if (value.object === "list" && field === "data" && Array.isArray(value.data)) {
    for (const item of value.data) expandPath(item, rest, lookup);
    return;
  }
  const target = EXPANDABLE[value.object as ObjectType]?.[field];
  if (target === undefined) return;
  const current = value[field];
  if (typeof current === "string") value[field] = lookup(target, current) ?? current;
  const expanded = value[field];
  if (expanded !== undefined) expandPath(expanded, rest, lookup);
}
