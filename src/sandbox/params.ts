import {
  invalidRequest,
  parameterMissing,
  parameterUnknown,
  type StripeHttpError,
} from "./errors.js";
import type { FormObject, FormValue } from "./form.js";

/** A `created[gte|gt|lte|lt]` filter, in unix seconds. */
export interface Range {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

/** Metadata as a request changes it: a key set to `null` is removed; `null` as a whole clears all. */
export type MetadataUpdate = Record<string, string | null> | null;

/** Parameters every endpoint accepts. */
const ALWAYS_ALLOWED = ["expand"];

const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 };

/**
 * Typed reads of one request's parameters, refusing what Stripe refuses with Stripe's
 * codes: unknown parameters, empty strings where a value cannot be unset, bad integers,
 * booleans and enums. Every read names the parameter the way Stripe does (`address[city]`).
 */
export class Params {
  private constructor(private readonly values: FormObject) {}

  /** Stripe rejects any parameter the endpoint does not take. */
  static read(values: FormObject, allowed: readonly string[]): Params {
    for (const name of Object.keys(values)) {
      if (!allowed.includes(name) && !ALWAYS_ALLOWED.includes(name)) throw parameterUnknown(name);
    }
    return new Params(values);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.values, name);
  }

  /** A non-empty string; `""` is refused because this parameter cannot be unset. */
  string(name: string): string | undefined {
    const value = this.nullableString(name);
    if (value === null) throw emptyString(name);
    return value;
  }

  /** A string that may be unset by sending it empty (`description=`): `null` then. */
  nullableString(name: string): string | null | undefined {
    return scalar(this.values[name], name, "string");
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw parameterMissing(name);
    return value;
  }

  integer(name: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
    const text = this.string(name);
    return text === undefined ? undefined : integer(text, name, min);
  }

  requiredInteger(name: string, min?: number): number {
    const value = this.integer(name, min);
    if (value === undefined) throw parameterMissing(name);
    return value;
  }

  boolean(name: string): boolean | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (text === "true") return true;
    if (text === "false") return false;
    throw invalidRequest(`Invalid boolean: ${text}`, { param: name });
  }

  choice<T extends string>(name: string, values: readonly T[]): T | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if ((values as readonly string[]).includes(text)) return text as T;
    throw invalidRequest(`Invalid ${name}: must be one of ${oneOf(values)}`, {
      code: "parameter_invalid_string",
      param: name,
    });
  }

  metadata(): MetadataUpdate | undefined {
    const value = this.values.metadata;
    if (value === undefined) return undefined;
    if (value === "") return null;
    const fields = hash(value, "metadata");
    const keys = Object.keys(fields);
    if (keys.length > METADATA_LIMITS.keys) {
      throw invalidRequest(
        `Invalid metadata: metadata can have at most ${METADATA_LIMITS.keys} keys.`,
        {
          param: "metadata",
        },
      );
    }
    const update: Record<string, string | null> = {};
    for (const key of keys) {
      const param = `metadata[${key}]`;
      if (key.length > METADATA_LIMITS.keyLength) {
        throw invalidRequest(
          `Metadata keys can be at most ${METADATA_LIMITS.keyLength} characters long.`,
          { param },
        );
      }
      const text = scalar(fields[key], param, "string") ?? null;
      if (text !== null && text.length > METADATA_LIMITS.valueLength) {
        throw invalidRequest(
          `Metadata values can be at most ${METADATA_LIMITS.valueLength} characters long.`,
          { param },
        );
      }
      update[key] = text;
    }
    return update;
  }

  /**
   * A flat sub-object of strings (`address[city]`, `evidence[customer_name]`), each of the
   * given keys; `null` for a key sent empty, `null` as a whole when the object is sent empty.
   */
  fields<K extends string>(
    name: string,
    keys: readonly K[],
  ): Partial<Record<K, string | null>> | null | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (value === "") return null;
    const given = hash(value, name);
    const out: Partial<Record<K, string | null>> = {};
    for (const [key, child] of Object.entries(given)) {
      const param = `${name}[${key}]`;
      if (!(keys as readonly string[]).includes(key)) throw parameterUnknown(param);
      out[key as K] = scalar(child, param, "string");
    }
    return out;
  }

  /** `created=…` (exactly) or `created[gte]=…` and friends. */
  range(name: string): Range | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (typeof value === "string") {
      const exact = this.integer(name);
      return exact === undefined ? undefined : { gte: exact, lte: exact };
    }
    const range: Range = {};
    for (const [bound, child] of Object.entries(hash(value, name))) {
      const param = `${name}[${bound}]`;
      if (bound !== "gt" && bound !== "gte" && bound !== "lt" && bound !== "lte") {
        throw parameterUnknown(param);
      }
      const text = scalar(child, param, "integer");
      if (text === null) throw emptyString(param);
      if (text !== undefined) range[bound] = integer(text, param);
    }
    return range;
  }

  /** A list of strings (`expand[]=a&expand[]=b` or `expand[0]=a`). */
  list(name: string): string[] {
    const value = this.values[name];
    if (value === undefined || value === "") return [];
    if (!Array.isArray(value)) throw invalidRequest("Invalid array", { param: name });
    return value.map((item, index) => {
      const text = scalar(item, `${name}[${index}]`, "string");
      if (!text) throw emptyString(`${name}[${index}]`);
      return text;
    });
  }

  /** The canonical text of every parameter, to tell "same request" from "different request". */
  fingerprint(): string {
    return canonical(this.values);
  }
}

function integer(text: string, param: string, min = Number.MIN_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw invalidRequest(`Invalid integer: ${text}`, { code: "parameter_invalid_integer", param });
  }
  const value = Number(text);
  if (value < min) {
    throw invalidRequest(
      min === 1
        ? "Invalid positive integer"
        : `This value must be greater than or equal to ${min}.`,
      { code: "parameter_invalid_integer", param },
    );
  }
  return value;
}

function scalar(
  value: FormValue | undefined,
  param: string,
  kind: string,
): string | null | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw invalidRequest(`Invalid ${kind}: ${JSON.stringify(value)}`, { param });
  return value === "" ? null : value;
}

function hash(value: FormValue, param: string): FormObject {
  if (typeof value === "string" || Array.isArray(value))
    throw invalidRequest("Invalid hash", { param });
  return value;
}

function emptyString(param: string): StripeHttpError {
  return invalidRequest(
    `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
    { code: "parameter_invalid_string_empty", param },
  );
}

/** `a, b, or c`, as Stripe lists allowed values. */
function oneOf(values: readonly string[]): string {
  if (values.length <= 2) return values.join(" or ");
  return `${values.slice(0, -1).join(", ")}, or ${values.at(-1)}`;
}

function canonical(value: FormValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] as FormValue)}`).join(",")}}`;
}

/** Metadata after an update: keys sent empty are removed, `metadata=` clears everything. */
export function applyMetadata(current: Record<string, string>, update: MetadataUpdate | undefined) {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}
