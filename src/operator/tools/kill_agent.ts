import { z } from "zod";
import { stopSessions } from "../kill-switch.js";
import { defineOperatorTool, STOPS_SESSIONS } from "../tool.js";
import { reason } from "./reason.js";

export const killAgent = defineOperatorTool({
  name: "kill_agent",
  title: "Kill every session of one agent",
  description:
    "Stops every active session of one agent (all its keys, every process on this data directory): their next tool calls are refused with `session_killed`. Sessions the agent opens later are not affected; revoke its key (`spendguard keys revoke`) to keep it out.",
  input: z
    .object({
      agent: z.string().min(1).max(64).describe("The agent's name, as list_sessions shows it."),
      reason,
    })
    .strict(),
  output: z.object({ agent: z.string(), killed: z.array(z.string()) }),
  annotations: STOPS_SESSIONS,
  async handle(ctx, args) {
    const outcome = await stopSessions(
      ctx.store,
      ctx.home,
      { agent: args.agent },
      { by: ctx.operator, reason: args.reason, now: ctx.now },
    );
    return {
      output: { agent: args.agent, killed: outcome.killed },
      text:
        outcome.killed.length === 0
          ? `Agent ${args.agent} has no active session: nothing to kill.`
          : `Killed ${outcome.killed.length} session(s) of agent ${args.agent}: ${outcome.killed.join(", ")}.`,
    };
  },
});
