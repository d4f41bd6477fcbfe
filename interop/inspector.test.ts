import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  childEnv,
  createAgentKey,
  httpFixture,
  type Outcome,
  revokeKey,
  runScenario,
  type ScenarioClient,
  STEP_MS,
  sdkOutcome,
  stdioServer,
} from "./harness.js";

/**
 * The MCP Inspector's CLI mode, 1.x and 2.x, one process per request as a script uses it:
 * stdio through an `mcpServers` config file (the same shape as Claude Desktop's), HTTP by
 * URL with `--header`.
 */

const run = promisify(execFile);
const INSPECTORS = {
  "1.x": join(import.meta.dirname, "node_modules/inspector-v1/cli/build/cli.js"),
  "2.x": join(import.meta.dirname, "node_modules/inspector-v2/clients/launcher/build/index.js"),
};
type Version = keyof typeof INSPECTORS;
const http = httpFixture();

beforeAll(() => http.setup());
afterAll(() => http.teardown());

/** `mcp-inspector --cli TARGET… ARGS`; stdout and stderr whatever the exit code. */
async function inspector(version: Version, target: string[], args: string[]) {
  const home = http.home();
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

function inspectorClient(version: Version, target: string[]): ScenarioClient {
  return {
    async toolNames() {
      const { stdout, stderr } = await inspector(version, target, ["--method", "tools/list"]);
      if (!stdout.trim().startsWith("{")) throw new Error(`tools/list failed:\n${stderr}`);
      return (JSON.parse(stdout) as { tools: { name: string }[] }).tools.map((tool) => tool.name);
    },
    async call(name, args): Promise<Outcome> {
      const pairs = Object.entries(args).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
      const { stdout, stderr } = await inspector(version, target, [
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
function configFile(): string[] {
  const file = join(http.home(), "inspector-mcp.json");
  writeFileSync(file, JSON.stringify({ mcpServers: { spendguard: stdioServer(http.home()) } }));
  return ["--config", file, "--server", "spendguard"];
}

const transportFlag = (version: Version, wire: "http" | "sse") =>
  // 2.x tells the transport from the URL (/mcp, /sse); 1.x needs it spelled out.
  version === "1.x" ? ["--transport", wire] : [];

describe.each(Object.keys(INSPECTORS) as Version[])("MCP Inspector %s --cli", (version) => {
  it("stdio", async () => {
    await runScenario(inspectorClient(version, configFile()));
  });

  it("Streamable HTTP (/mcp)", async () => {
    const key = await http.key(`inspector-${version}-http`);
    await runScenario(
      inspectorClient(version, [
        http.url("/mcp"),
        ...transportFlag(version, "http"),
        "--header",
        `Authorization: Bearer ${key}`,
      ]),
    );
  });

  it("SSE (/sse)", async () => {
    const key = await http.key(`inspector-${version}-sse`);
    await runScenario(
      inspectorClient(version, [
        http.url("/sse"),
        ...transportFlag(version, "sse"),
        "--header",
        `Authorization: Bearer ${key}`,
      ]),
    );
  });
});

describe("MCP Inspector 2.x with a revoked key", () => {
  it("says the key was revoked (scripts use --stored-auth-only: no browser sign-in)", async () => {
    const made = await createAgentKey(http.home(), "inspector-revoked");
    await revokeKey(http.home(), made.id);
    const { code, stdout, stderr } = await inspector(
      "2.x",
      [http.url("/mcp"), "--header", `Authorization: Bearer ${made.key}`],
      ["--method", "tools/list", "--stored-auth-only"],
    );
    expect(code).not.toBe(0);
    expect(`${stdout}${stderr}`).toContain("This key was revoked; ask the operator for a new one.");
  });
});
