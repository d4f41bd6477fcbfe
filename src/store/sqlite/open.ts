import Database from "better-sqlite3";
import { ConfigError } from "../../errors.js";

/**
 * The one place better-sqlite3's native addon is loaded. The addon is built by `npm ci`
 * for the Node.js that ran it; an MCP client whose `"command": "node"` finds another Node
 * on its PATH cannot load it, and would show its user only "Connection closed". Such a
 * load error becomes a ConfigError that says how to fix it.
 */

export function openDatabase(file: string, options: Database.Options): Database.Database {
  try {
    return new Database(file, options);
  } catch (err) {
    const problem = nativeAddonProblem(err);
    if (problem) throw new ConfigError(`${problem.detail}. Fix: ${problem.fix}`);
    throw err;
  }
}

/** Why the addon cannot be loaded in this Node, if it cannot (for `spendguard doctor`). */
export function sqliteAddonProblem(): { detail: string; fix: string } | undefined {
  try {
    new Database(":memory:").close();
    return undefined;
  } catch (err) {
    const problem = nativeAddonProblem(err);
    if (problem) return problem;
    throw err;
  }
}

/** What a failed load of the addon means, from Node's error; other errors are not ours. */
export function nativeAddonProblem(err: unknown): { detail: string; fix: string } | undefined {
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== "ERR_DLOPEN_FAILED") {
    return undefined;
  }
  if (!/better_sqlite3/.test(err.message)) return undefined;
  const [built, needed] = [...err.message.matchAll(/NODE_MODULE_VERSION (\d+)/g)].map((m) => m[1]);
  const node = `${process.execPath} (Node.js ${process.versions.node})`;
  return {
    detail:
      built && needed
        ? `better-sqlite3 was built for another Node.js (NODE_MODULE_VERSION ${built}) than the one running spendguard, ${node}, which needs ${needed}`
        : `better-sqlite3's native addon cannot be loaded by ${node}: ${err.message.split("\n")[0]}`,
    fix: `run \`npm rebuild better-sqlite3\` in the spendguard checkout with this Node (${process.execPath}), or start spendguard with the Node that ran npm ci: in mcp.json, set "command" to its absolute path (\`node -p process.execPath\` prints it)`,
  };
}
