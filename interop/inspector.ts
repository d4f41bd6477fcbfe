import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  childEnv,
  httpFixture,
  type Outcome,
  runScenario,
  type ScenarioClient,
  STEP_MS,
  sdkOutcome,
} from "./harness.js";

/**
 * The MCP Inspector's CLI mode, 1.x and 2.x, one process per request as a script uses it:
 * stdio through an `mcpServers` config file (the same shape as Claude Desktop's), HTTP by
 * URL with `--header`. One test file per version, so the two run side by side.
 */

const run = promisify(execFile);
const INSPECTORS = {
  "1.x": join(import.meta.dirname, "node_modules/inspector-v1/cli/build/cli.js"),
  "2.x": join(import.meta.dirname, "node_modules/inspector-v2/clients/launcher/build/index.js"),
};
export type Version = keyof typeof INSPECTORS;

/** `mcp-inspector --cli TARGET… ARGS`; exit code, stdout and stderr, whatever the outcome. */
export async function inspector(version: Version, home: string, target: string[], args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [INSPECTORS[version], "--cli", ...target, ...args],
      {
        // 1.x finds its own package.json only when ../package.json of the working directory
        // does not exist (it checks one path and imports another): run it from the temp home.
        cwd: home,
        // 2.x keeps its catalog under HOME; no OS keychain here, so memory.
        env: childEnv(home, { MCP_INSPECTOR_SECRET_STORE: "memory" }),
        timeout: STEP_MS,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

function inspectorClient(version: Version, home: string, target: string[]): ScenarioClient {
  return {
    async toolNames() {
      const { stdout, stderr } = await inspector(version, home, target, ["--method", "tools/list"]);
      if (!stdout.trim().startsWith("{")) throw new Error(`tools/list failed:\n${stderr}`);
      return (JSON.parse(stdout) as { tools: { name: string }[] }).tools.map((tool) => tool.name);
    },
    async call(name, args): Promise<Outcome> {
      const pairs = Object.entries(args).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
      const { stdout, stderr } = await inspector(version, home, target, [
        "--method",
        "tools/call",
        "--tool-name",
        name,
        "--tool-arg",
        ...pairs,
      ]);
      if (!stdout.trim().startsWith("{")) throw new Error(`tools/call failed:\n${stderr}`);
      return sdkOutcome(JSON.parse(stdout));
    },
  };
}

/** A config file naming spendguard over stdio, as `--config FILE --server spendguard` reads it. */
function configFile(http: ReturnType<typeof httpFixture>): string[] {
  const file = join(http.stdioHome(), "inspector-mcp.json");
  writeFileSync(file, JSON.stringify({ mcpServers: { spendguard: http.stdio() } }));
  return ["--config", file, "--server", "spendguard"];
}

/** The scenario on stdio, /mcp and /sse for one Inspector version; returns its HTTP fixture. */
export function inspectorScenarios(version: Version): ReturnType<typeof httpFixture> {
  const http = httpFixture();
  beforeAll(() => http.setup());
  afterAll(() => http.teardown());
  // 2.x tells the transport from the URL (/mcp, /sse); 1.x needs it spelled out.
  const transport = (wire: "http" | "sse") => (version === "1.x" ? ["--transport", wire] : []);

  describe(`MCP Inspector ${version} --cli`, () => {
    it("stdio", async () => {
      await runScenario(inspectorClient(version, http.home(), configFile(http)));
    });

    for (const [name, path, wire] of [
      ["Streamable HTTP (/mcp)", "/mcp", "http"],
      ["SSE (/sse)", "/sse", "sse"],
    ] as const) {
      it(name, async () => {
        const key = await http.key(`inspector-${version}-${wire}`);
        const target = [
          http.url(path),
          ...transport(wire),
          "--header",
          `Authorization: Bearer ${key}`,
        ];
        await runScenario(inspectorClient(version, http.home(), target));
      });
    }
  });
  return http;
}
