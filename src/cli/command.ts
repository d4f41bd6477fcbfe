/** One `spendguard <name>` sub-command. Each lives in its own file under `src/cli/commands/`. */
export interface CliCommand {
  name: string;
  /** One line for `spendguard --help`. */
  summary: string;
  /** Full text for `spendguard <name> --help`. */
  usage: string;
  /**
   * Runs the command with the arguments after its name. Resolves to the exit code:
   * 0 ok, 1 a failure was found, 2 usage error. Long-running commands (serve, sandbox)
   * resolve only when they are asked to stop.
   */
  run(argv: string[], io: CliIO): Promise<number>;
}

/** Where a command writes. stdout is reserved for results (and for MCP on `serve`). */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A usage mistake: the CLI prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
