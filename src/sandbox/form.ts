/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` pairs whose keys use
 * bracket notation for structure — `metadata[tier]=gold`, `expand[]=customer`,
 * `expand[0]=customer`, `items[0][price]=price_x`, `created[gte]=1700000000`. The same
 * notation is used in query strings for GET and DELETE.
 */
export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/** The body (or query) could not be read as form parameters. */
export class MalformedFormError extends Error {
  override name = "MalformedFormError";
}

/** Deep enough for anything Stripe accepts (`a[b][c][d]`), shallow enough to refuse abuse. */
const MAX_DEPTH = 8;
/** `expand[5000]=x` must not allocate a huge sparse array. */
const MAX_INDEX = 1000;
const KEY = /^([^[\]]+)((?:\[[^[\]]*\])*)$/;

export function parseForm(text: string): FormObject {
  const root: FormObject = Object.create(null);
  if (text === "") return root;
  for (const pair of text.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
    assign(root, keyPath(decode(rawKey)), decode(rawValue));
  }
  return compact(root) as FormObject;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, " "));
  } catch {
    throw new MalformedFormError(`'${component}' is not valid percent-encoding`);
  }
}

/** `a[b][]` → `["a", "b", ""]`; an empty segment means "append". */
function keyPath(key: string): string[] {
  const match = KEY.exec(key);
  if (!match) throw new MalformedFormError(`'${key}' is not a valid parameter name`);
  const segments = [match[1] as string];
  for (const bracket of (match[2] ?? "").matchAll(/\[([^[\]]*)\]/g)) {
    segments.push(bracket[1] as string);
  }
  if (segments.length > MAX_DEPTH) {
    throw new MalformedFormError(`'${key}' is nested more than ${MAX_DEPTH} levels deep`);
  }
  return segments;
}

const isIndex = (segment: string) => segment === "" || /^\d+$/.test(segment);

function assign(root: FormObject, path: string[], value: string): void {
  let container: FormObject | FormValue[] = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string;
    const last = i === path.length - 1;
    const child: FormValue = last
      ? value
      : isIndex(path[i + 1] as string)
        ? []
        : Object.create(null);
    container = step(container, segment, child, path, last);
  }
}

/**
 * Puts `fresh` under `segment` of `container` (or reuses what is there when it has the same
 * shape) and returns the container for the next segment. Leaves are overwritten: the last
 * value of a repeated key wins, as in Rack.
 */
function step(
  container: FormObject | FormValue[],
  segment: string,
  fresh: FormValue,
  path: string[],
  last: boolean,
): FormObject | FormValue[] {
  const name = () => path.join(".");
  if (Array.isArray(container)) {
    if (!isIndex(segment)) throw new MalformedFormError(`'${name()}' mixes a list and an object`);
    const index = segment === "" ? container.length : Number(segment);
    if (index > MAX_INDEX)
      throw new MalformedFormError(`'${name()}' has an index over ${MAX_INDEX}`);
    const existing = segment === "" ? undefined : container[index];
    container[index] = reuse(existing, fresh, last, name);
    return container[index] as FormObject | FormValue[];
  }
  const existing = Object.hasOwn(container, segment) ? container[segment] : undefined;
  container[segment] = reuse(existing, fresh, last, name);
  return container[segment] as FormObject | FormValue[];
}

function reuse(
  existing: FormValue | undefined,
  fresh: FormValue,
  last: boolean,
  name: () => string,
): FormValue {
  if (existing === undefined || last) {
    if (last && existing !== undefined && typeof existing !== "string") {
      throw new MalformedFormError(`'${name()}' is given both as a value and as a structure`);
    }
    return fresh;
  }
  if (typeof existing === "string" || Array.isArray(existing) !== Array.isArray(fresh)) {
    throw new MalformedFormError(`'${name()}' is given both as a value and as a structure`);
  }
  return existing;
}

/** Drops the holes `items[0]` + `items[2]` leave, keeping index order. */
function compact(value: FormValue): FormValue {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(compact);
  const out: FormObject = Object.create(null);
  for (const [key, child] of Object.entries(value)) out[key] = compact(child);
  return out;
}
