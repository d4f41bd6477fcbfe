import { z } from "zod";

/** Every kill says why: the agent is told, and the session and audit keep it. */
export const reason = z
  .string()
  .trim()
  .min(1, "say why")
  .max(500)
  .describe("Why: shown to the agent, kept with the session and in the audit.");
