import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { describeIssues, formatPath, type PolicyPath, type PolicyProblem } from "./errors.js";

/**
 * A YAML configuration file (a policy, the alerts file) validated by a zod schema. Every
 * problem names the file, the line, the field path and what was expected there, and the
 * load fails as a whole: a configuration never half-applies.
 */

export interface ParsedYaml<T> {
  data: T;
  /** Fails the load with further problems found after the schema (cross-field checks). */
  fail(problems: readonly PolicyProblem[]): never;
}

/**
 * `what` names the file in messages (`policy`, `alerts file`); `shape` says what its top
 * level should be when it is not a mapping (`a mapping with sinks and rules`).
 */
export function parseYaml<S extends z.ZodType>(
  text: string,
  file: string,
  what: string,
  schema: S,
  shape: string,
): ParsedYaml<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (path: PolicyPath): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const fail = (problems: readonly PolicyProblem[]): never => {
    const listed = problems.map(({ path, expected }) => {
      const line = lineOf(path);
      return `  ${file}${line ? `:${line}` : ""}: ${formatPath(path)}: ${expected}`;
    });
    throw new ConfigError(`${what} ${file} is invalid:\n${listed.join("\n")}`);
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      `${what} ${file} is not valid YAML:\n${doc.errors.map((e) => `  ${file}:${e.linePos?.[0].line ?? "?"}: ${e.message.split("\n")[0]}`).join("\n")}`,
    );
  }
  const input: unknown = doc.toJS();
  const parsed = schema.safeParse(input ?? undefined);
  if (!parsed.success) {
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      fail([{ path: [], expected: `expected ${shape}` }]);
    }
    return fail(describeIssues(schema, parsed.error.issues, input));
  }
  return { data: parsed.data, fail };
}
