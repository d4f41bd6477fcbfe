import { redactSecrets } from "./redact.js";

/** An exception as it may be logged: message and stack with secrets scrubbed. */
export function redactError(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error) {
    return {
      type: err.name,
      message: redactSecrets(err.message),
      ...(err.stack ? { stack: redactSecrets(err.stack) } : {}),
    };
  }
  return { type: typeof err, message: redactSecrets(String(err)) };
}
