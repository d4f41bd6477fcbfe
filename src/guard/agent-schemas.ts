import { z } from "zod";
import type { AnyTool } from "../../tools/tool.js";

/**
 * The schemas an agent sees, built from the tool's own: strict input (an unknown argument
 * is an error, never silently dropped — `amount_usd` must not become a full refund), the
 * optional `stripe_account` when the policy lists connected accounts, and a `spendguard`
 * block on write results.
 */

export function agentInputSchema(tool: AnyTool, connectedAccounts: readonly string[]): z.ZodObject {
  const strict = tool.input.strict();
  if (tool.kind === "session" || connectedAccounts.length === 0) return strict;
  return strict.safeExtend({
    stripe_account: z
      .string()
      .regex(/^acct_/, "a connected account id (acct_…)")
      .optional()
      .describe(
        `Connected account (Stripe-Account) to act on: one of ${connectedAccounts.join(", ")}. Leave it out for the platform account.`,
      ),
  });
}

const spendguardBlock = z
  .object({
    replayed: z
      .boolean()
      .describe(
        "true when this repeated an earlier identical call: Stripe returned the first result and nothing was done twice.",
      ),
    cap_currency: z.string(),
    session_left: z
      .number()
      .int()
      .nullable()
      .describe(
        "What is left of the session cap, in the cap currency's smallest unit (null: no cap).",
      ),
    day_left: z
      .number()
      .int()
      .nullable()
      .describe(
        "What is left of the rolling 24-hour cap, in the cap currency's smallest unit (null: no cap).",
      ),
  })
  .describe("What spendguard adds: whether this was a replay, and what is left of the caps.");

export type SpendguardBlock = z.output<typeof spendguardBlock>;

export function agentOutputSchema(tool: AnyTool): z.ZodObject {
  if (tool.kind !== "write") return tool.output;
  return tool.output.safeExtend({ spendguard: spendguardBlock.optional() });
}

/** `Invalid arguments for issue_refund: amount: expected number, received string.` */
export function describeInvalidArguments(
  tool: string,
  schema: z.ZodObject,
  error: z.ZodError,
): string {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "arguments";
    if (issue.code === "unrecognized_keys") {
      const known = Object.keys(schema.shape);
      return `unknown argument${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} (known: ${known.join(", ") || "none"})`;
    }
    return `${where}: ${issue.message.replace(/^Invalid (input|option): /, "")}`;
  });
  return `Invalid arguments for ${tool}: ${problems.join("; ")}.`;
}
