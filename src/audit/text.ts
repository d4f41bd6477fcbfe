import { redactSecrets } from "./redact.js";

const MAX_REASON = 500;

/** A reason a person or an agent gave (a kill, an approval), as it is stored: redacted and bounded. */
export function cleanReason(reason: string): string {
  return redactSecrets(reason.trim()).slice(0, MAX_REASON);
}
