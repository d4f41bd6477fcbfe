#!/usr/bin/env node
import { redactSecrets } from "../audit/redact.js";
import { hostId } from "../config.js";
import { ConfigError, SpendguardError } from "../errors.js";
import { nameThisHost } from "../guard/owner.js";
import { VERSION } from "../version.js";
import { type CliCommand, type CliIO, UsageError } from "./command.js";
import { COMMANDS } from "./commands/index.js";

const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `spendguard ${VERSION} — guarded Stripe tools for LLM agents (MCP)`,
    "",
    "Usage: spendguard <command> [options]    (spendguard <command> --help for details)",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`spendguard: unknown command '${name}'.\n\n${overview()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(`${command.usage.trimEnd()}\n`);
    return 0;
  }
  return runCommand(command, rest);
}

async function runCommand(command: CliCommand, argv: string[]): Promise<number> {
  try {
    // Every command that judges a write in flight (serve, admissions, the console) knows
    // which host it runs on, so a crashed local server's writes are known at once.
    nameThisHost(hostId(io.env.SPENDGUARD_HOST_ID));
    return await command.run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(
        `spendguard ${command.name}: ${error.message}\n\n${command.usage.trimEnd()}\n`,
      );
      return 2;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`spendguard ${command.name}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof SpendguardError && error.code === "store_unavailable") {
      io.stderr.write(`spendguard ${command.name}: ${error.message} ${error.hint ?? ""}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`spendguard ${command.name}: unexpected error: ${redactSecrets(message)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    io.stderr.write(`spendguard: ${redactSecrets(String(error))}\n`);
    process.exitCode = 1;
  },
);
