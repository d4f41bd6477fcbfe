import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR_TOOLS } from "../../src/operator/tools/index.js";
import { nativeAddonProblem } from "../../src/store/sqlite/open.js";
import { type CliRun, demoHome, ROOT, runCli, tempDir } from "./helpers.js";

/**
 * What a newcomer meets on a fresh checkout, as they meet it: the README's way to get
 * `spendguard` on PATH, an MCP client that starts another Node than the one that ran
 * `npm ci`, mcp.json's placeholder key, the operator tools the docs name, and the README's
 * sample outputs, compared with what the commands really print.
 */

const README = readFileSync(join(ROOT, "README.md"), "utf8");
const MCP_JSON = JSON.parse(readFileSync(join(ROOT, "mcp.json"), "utf8")) as {
  mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
};
const scratch = tempDir("spendguard-newcomer-");
afterAll(() => scratch.cleanup());

/** Runs a program to completion (for npm and the linked command). */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("spendguard on PATH", () => {
  it("the README's `npm link` puts a spendguard that runs anywhere on PATH", async () => {
    expect(README).toMatch(/npm ci && npm run build && npm link/);
    const prefix = join(scratch.dir, "prefix");
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: scratch.dir,
      NPM_CONFIG_PREFIX: prefix,
      NPM_CONFIG_CACHE: join(scratch.dir, "npm-cache"),
    };
    const linked = await run(
      "npm",
      ["link", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
      { cwd: ROOT, env },
    );
    expect(linked.code, linked.stderr).toBe(0);
    const elsewhere = await run("spendguard", ["--version"], {
      cwd: scratch.dir,
      env: { ...env, PATH: `${join(prefix, "bin")}:${env.PATH}` },
    });
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(elsewhere.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("no README example or demo hint relies on `npx spendguard` outside the checkout", async () => {
    for (const line of README.split("\n").filter((l) => l.includes("npx spendguard"))) {
      expect(line).toMatch(/inside the checkout|from the checkout/);
    }
    const home = join(scratch.dir, "demo");
    const demo = await demoHome(home);
    expect(demo.stdout).not.toContain("npx spendguard");
    expect(demo.stdout).toContain(`SPENDGUARD_HOME=${home} spendguard audit`);
  });
});

describe("an MCP client that starts another Node than the one that ran npm ci", () => {
  // Node 22's own words for better-sqlite3 built under Node 20, recorded from a real run.
  const realError = (file: string) =>
    `The module '${file}'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127. Please try re-compiling or re-installing\nthe module (for instance, using \`npm rebuild\` or \`npm install\`).`;

  // The built CLI, unchanged, in a Node whose dlopen refuses the addon exactly like that.
  const preload = join(scratch.dir, "other-node-abi.cjs");
  beforeAll(() => {
    writeFileSync(
      preload,
      `const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  if (String(filename).endsWith("better_sqlite3.node")) {
    const error = new Error(${JSON.stringify(realError("FILE"))}.replace("FILE", filename));
    error.code = "ERR_DLOPEN_FAILED";
    throw error;
  }
  return dlopen.call(this, module, filename, ...rest);
};
`,
    );
  });
  const otherNode = (home: string) => ({
    SPENDGUARD_HOME: home,
    NODE_OPTIONS: `--require ${preload}`,
    NO_COLOR: "1",
  });

  it("maps the real error to what to do", () => {
    const error = Object.assign(new Error(realError("/x/better_sqlite3.node")), {
      code: "ERR_DLOPEN_FAILED",
    });
    const problem = nativeAddonProblem(error);
    expect(problem?.detail).toContain("built for another Node.js (NODE_MODULE_VERSION 115");
    expect(problem?.detail).toContain("needs 127");
    expect(problem?.fix).toContain("npm rebuild better-sqlite3");
    expect(problem?.fix).toContain(process.execPath);
    expect(nativeAddonProblem(new Error("SQLITE_BUSY"))).toBeUndefined();
  });

  it("doctor fails the Node.js check with the fix, even before any database exists", async () => {
    const home = join(scratch.dir, "abi-doctor");
    const doctor = await runCli(["doctor", "--sandbox"], { env: otherNode(home) });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL {2}Node\.js: .*NODE_MODULE_VERSION 115/);
    expect(doctor.stdout).toContain("npm rebuild better-sqlite3");
  });

  it("serve exits with the fix instead of a stack trace", async () => {
    const home = join(scratch.dir, "abi-serve");
    const serve = await runCli(
      ["serve", "--sandbox", "--policy", join(ROOT, "policies/support-refunds.yaml")],
      { env: otherNode(home) },
    );
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain("npm rebuild better-sqlite3");
    expect(serve.stderr).toContain("mcp.json");
    expect(serve.stderr).not.toMatch(/unexpected error|\n\s+at /);
  });
});

describe("mcp.json's placeholder key", () => {
  const entry = MCP_JSON.mcpServers.spendguard;
  const local = (text: string) => text.replaceAll("/path/to/spendguard", ROOT);

  it("serve refuses it and says what to put there", async () => {
    const home = join(scratch.dir, "placeholder");
    const env = Object.fromEntries(
      Object.entries(entry?.env ?? {}).map(([name, value]) => [name, local(value)]),
    );
    const serve = await runCli((entry?.args ?? []).slice(1).map(local), {
      env: { ...env, SPENDGUARD_HOME: home },
    });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain("placeholder");
    expect(serve.stderr).toContain("Create restricted key");
    expect(serve.stderr).toContain("spendguard scopes");
    const doctor = await runCli(["doctor"], { env: { ...env, SPENDGUARD_HOME: home } });
    expect(doctor.stdout).toMatch(/FAIL {2}Stripe key: .*placeholder/);
    rmSync(home, { recursive: true, force: true });
  });
});

describe("the operator tools, as the docs name them", () => {
  const names = OPERATOR_TOOLS.map((tool) => tool.name);

  it("README names all of them where it introduces operator keys", () => {
    const paragraph = README.split("\n- ").find((p) => p.includes("An operator key (`sg_op_…`)"));
    const named = [...(paragraph ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    expect(named.filter((name) => name !== undefined && names.includes(name))).toEqual(names);
  });

  it.each([["serve"], ["keys"]])("%s --help names all of them", async (command) => {
    const help = await runCli([command, "--help"]);
    const text = help.stdout.replace(/\s+/g, " ");
    for (const name of names) expect(text, name).toMatch(new RegExp(`\\b${name}\\b`));
  });
});

describe("the README's sample outputs are what the commands print", () => {
  /** `$ spendguard …` blocks: the command (without a trailing comment) and what follows. */
  const samples = [...README.matchAll(/```\n\$ (spendguard [^\n]*)\n([\s\S]*?)```/g)].map(
    ([, command, output]) => ({
      command: (command ?? "").replace(/\s+#.*$/, ""),
      output: output ?? "",
    }),
  );
  const sample = (command: string) => {
    const found = samples.find((s) => s.command === command);
    if (!found) throw new Error(`no README sample for ${command}`);
    return found.output;
  };
  const readmeHome = /export SPENDGUARD_HOME=(\S+)/.exec(README)?.[1] ?? "";
  let home = "";
  beforeAll(async () => {
    home = join(scratch.dir, "samples");
    await demoHome(home);
  });
  /** The demo's data directory and this machine's Node read as the README's. */
  const asInReadme = (text: string) =>
    text
      .replaceAll(home, readmeHome)
      .replace(/Node\.js: \d+\.\d+\.\d+/, /Node\.js: \d+\.\d+\.\d+/.exec(README)?.[0] ?? "");

  it.each([
    ["spendguard doctor --policy policies/support-refunds.yaml"],
    ["spendguard audit verify"],
    ["spendguard scopes --policy policies/billing-collections.yaml"],
  ])("%s", async (command) => {
    const printed = await runCli(command.split(" ").slice(1), {
      env: { SPENDGUARD_HOME: home, NO_COLOR: "1" },
    });
    expect(asInReadme(printed.stdout)).toBe(sample(command));
  });
});
