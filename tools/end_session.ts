import { z } from "zod";
import { defineSessionTool } from "./tool.js";

export const endSession = defineSessionTool({
  name: "end_session",
  title: "End this session",
  description:
    "Ends this session for good: every later tool call in it is refused. Use it when the task is done or when you notice you are repeating yourself. A session can never be reopened; the operator starts a new one.",
  input: z
    .object({
      reason: z.string().max(500).default("ended by the agent").describe("Why the session ends."),
    })
    .strict(),
  output: z.object({ session_id: z.string(), state: z.literal("ended") }),
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: false,
  },
  kind: "session",
  permissions: {},
  ruleParams: [],
  async handle(control, args) {
    await control.end(args.reason);
    const { session_id } = await control.status();
    return {
      output: { session_id, state: "ended" as const },
      text: `Session ${session_id} has ended; later calls will be refused.`,
    };
  },
});
