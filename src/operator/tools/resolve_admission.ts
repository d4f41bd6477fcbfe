import { z } from "zod";
import { resolveAdmission } from "../../guard/unresolved.js";
import { DECIDES_APPROVAL, defineOperatorTool, OperatorError } from "../tool.js";
import { unresolvedOutput } from "./list_unresolved.js";

export const resolveAdmissionTool = defineOperatorTool({
  name: "resolve_admission",
  title: "Rule on a write with an unknown outcome",
  description:
    "Records your ruling on a write list_unresolved shows: `applied: true` settles it at what it reserved (it keeps counting as money moved), `applied: false` releases it (it stops counting). Check the Stripe Dashboard first (metadata spendguard_admission = the id). The ruling, your operator name and the reason go into the audit. Refused when the admission is unknown or not unresolved any more.",
  input: z
    .object({
      admission_id: z
        .string()
        .regex(/^adm_\d+$/, "an admission id: adm_ and digits")
        .describe("The admission, as list_unresolved shows it."),
      applied: z.boolean().describe("true: it happened in Stripe; false: it did not."),
      reason: z
        .string()
        .trim()
        .min(1, "say what you checked")
        .max(500)
        .describe("What you checked; kept in the audit."),
    })
    .strict(),
  output: z.object({ admission: unresolvedOutput, applied: z.boolean() }),
  annotations: DECIDES_APPROVAL,
  async handle(ctx, args) {
    const outcome = await resolveAdmission(ctx.store, {
      id: args.admission_id,
      applied: args.applied,
      reason: args.reason,
      by: ctx.operator,
      now: ctx.now,
    });
    if (!outcome.resolved) {
      throw outcome.problem === "unknown"
        ? new OperatorError(
            "unknown_admission",
            `No admission ${args.admission_id}; list_unresolved shows the open ones.`,
          )
        : new OperatorError(
            "admission_resolved",
            `Admission ${args.admission_id} is ${outcome.state ?? "resolved"}, not unresolved: nothing to rule on.`,
          );
    }
    const a = outcome.admission;
    return {
      output: { admission: a, applied: args.applied },
      text: args.applied
        ? `Resolved ${a.id} as applied: it stays counted as money moved.`
        : `Resolved ${a.id} as not applied: it no longer counts against the caps.`,
    };
  },
});
