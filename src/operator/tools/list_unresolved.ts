import { z } from "zod";
import { unresolvedAdmissions } from "../../guard/unresolved.js";
import { defineOperatorTool, READ_ONLY } from "../tool.js";

export const unresolvedOutput = z.object({
  id: z.string(),
  session: z.string(),
  agent: z.string(),
  tool: z.string(),
  customer: z.string().nullable(),
  args: z.string().describe("The arguments as the audit keeps them (redacted JSON)."),
  account: z.string().nullable(),
  amount: z.number().int().describe("In the call currency's minor unit."),
  currency: z.string().nullable(),
  amount_cap: z
    .number()
    .int()
    .describe("What it counts against the caps, cap-currency minor units."),
  cap_currency: z
    .string()
    .nullable()
    .describe("The cap currency; null when the call moves no money."),
  state: z.enum(["unknown", "reserved"]),
  created_at: z.string(),
  key_alive: z.boolean().describe("Whether Stripe may still hold its idempotency key."),
});

export const listUnresolved = defineOperatorTool({
  name: "list_unresolved",
  title: "List writes with an unknown outcome",
  description:
    "Lists the writes whose outcome spendguard could not prove: Stripe's answer was lost, and neither sending the request again (only inside the idempotency key's 23 h life, and only if it passes every gate now) nor reading Stripe for its stamp (metadata spendguard_admission = the id) settled it. Each keeps counting against the caps until resolve_admission rules on it. Optionally one agent's.",
  input: z
    .object({ agent: z.string().min(1).max(200).optional().describe("Only this agent's.") })
    .strict(),
  output: z.object({ admissions: z.array(unresolvedOutput) }),
  annotations: READ_ONLY,
  async handle(ctx, args) {
    const admissions = await unresolvedAdmissions(
      ctx.store,
      ctx.now,
      args.agent ? { agent: args.agent } : {},
    );
    return {
      output: { admissions },
      text:
        admissions.length === 0
          ? "No write with an unknown outcome."
          : `${admissions.length} write(s) with an unknown outcome, counting against the caps until resolved: ${admissions.map((a) => a.id).join(", ")}.`,
    };
  },
});
