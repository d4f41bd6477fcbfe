import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Logs go to stderr only: stdout belongs to the MCP stdio transport. Anything that could
 * carry a key is redacted by path here, and by content where log lines are built.
 */
export function createLogger(level: string = process.env.SPENDGUARD_LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      name: "spendguard",
      level,
      redact: {
        paths: ["apiKey", "key", "*.apiKey", "*.key", "authorization", "*.authorization"],
        censor: "[redacted]",
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** For tests and library use: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: "silent" });
