import { z } from "zod";
import { stopSessions } from "../kill-switch.js";
import { defineOperatorTool, OperatorError, STOPS_SESSIONS } from "../tool.js";
import { reason } from "./reason.js";

export const killSession = defineOperatorTool({
  name: "kill_session",
  title: "Kill one agent session",
  description:
    "Stops one agent session for good: its very next tool call is refused with `session_killed` and the agent is told the reason, in every spendguard process using this data directory, before anything reaches Stripe. A killed session never comes back. `session_id` as list_sessions shows it.",
  input: z
    .object({
      session_id: z
        .string()
        .regex(/^ses_[0-9a-f]{24}$/, "a session id: ses_ and 24 hex digits")
        .describe("The session to stop."),
      reason,
    })
    .strict(),
  output: z.object({
    session_id: z.string(),
    killed: z.boolean().describe("False when it was no longer active."),
    state: z.enum(["active", "killed", "expired", "ended"]),
  }),
  annotations: STOPS_SESSIONS,
  async handle(ctx, args) {
    const session = await ctx.store.getSession(args.session_id);
    if (!session) {
      throw new OperatorError(
        "unknown_session",
        `No session ${args.session_id} in this data directory; list_sessions shows them.`,
      );
    }
    const outcome = await stopSessions(
      ctx.store,
      ctx.home,
      { session },
      { by: ctx.operator, reason: args.reason, now: ctx.now },
    );
    const after = (await ctx.store.getSession(session.id)) ?? session;
    return {
      output: { session_id: session.id, killed: outcome.killed.length > 0, state: after.state },
      text: outcome.notActive
        ? `Session ${session.id} is already ${after.state}: nothing to kill.`
        : `Killed session ${session.id} (agent ${session.agent}): its next call is refused (session_killed).`,
    };
  },
});
