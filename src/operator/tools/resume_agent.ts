import { z } from "zod";
import { resumeAgent as releaseHold } from "../kill-switch.js";
import { defineOperatorTool, OperatorError } from "../tool.js";

export const resumeAgent = defineOperatorTool({
  name: "resume_agent",
  title: "Resume a paused agent",
  description:
    "Ends the pause of an agent that an alert rule stopped (`auto-pause: …`): the sessions it starts from now on work again. The sessions the pause killed stay killed; the agent's client opens a new one. `agent` as list_sessions shows it.",
  input: z
    .object({
      agent: z.string().min(1).max(64).describe("The paused agent's name."),
      reason: z
        .string()
        .trim()
        .max(500)
        .optional()
        .describe("Why it may go on: kept with the pause and in the audit."),
    })
    .strict(),
  output: z.object({ agent: z.string(), resumed: z.boolean() }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  async handle(ctx, args) {
    const resumed = await releaseHold(
      ctx.store,
      args.agent,
      { by: ctx.operator, reason: args.reason ?? null, now: ctx.now },
      null,
    );
    if (!resumed) {
      throw new OperatorError(
        "agent_not_paused",
        `Agent ${args.agent} is not paused: nothing to resume.`,
      );
    }
    return {
      output: { agent: args.agent, resumed },
      text: `Resumed agent ${args.agent}: the sessions it starts from now on work again.`,
    };
  },
});
