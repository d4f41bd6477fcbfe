import { z } from "zod";
import { stopSessions } from "../kill-switch.js";
import { defineOperatorTool, STOPS_SESSIONS } from "../tool.js";
import { reason } from "./reason.js";

export const killAll = defineOperatorTool({
  name: "kill_all",
  title: "Kill every agent session",
  description:
    "Stops every active agent session on this data directory and, through the kill/ALL flag file, every session started later, until someone removes that file: each one's next tool call is refused with `session_killed`. For incidents. Operator sessions are not affected.",
  input: z.object({ reason }).strict(),
  output: z.object({
    killed: z.array(z.string()),
    flag_file: z.string().describe("Remove it to let new sessions work again."),
  }),
  annotations: STOPS_SESSIONS,
  async handle(ctx, args) {
    const outcome = await stopSessions(
      ctx.store,
      ctx.home,
      { all: true },
      { by: ctx.operator, reason: args.reason, now: ctx.now },
    );
    const flag = outcome.flags[0] ?? "";
    return {
      output: { killed: outcome.killed, flag_file: flag },
      text: `Killed ${outcome.killed.length} active session(s). Every session started from now on is refused too, until the flag is removed: rm "${flag}"`,
    };
  },
});
