import { z } from "zod";
import { defineSessionTool } from "./tool.js";

const capView = z.object({
  cap: z.number().int(),
  used: z.number().int(),
  left: z.number().int(),
});

export const sessionStatus = defineSessionTool({
  name: "session_status",
  title: "Session status and what is left",
  description:
    "Shows this session's state (active, killed, expired, ended), its spending caps with how much is used and left (integers in the cap currency's smallest unit), calls made per tool, the tools allowed, and when the session expires. Use it before a large action to know what the guard will allow. Never reaches Stripe.",
  input: z.object({}).strict(),
  output: z.object({
    session_id: z.string(),
    agent: z.string(),
    policy: z.string(),
    state: z.enum(["active", "killed", "expired", "ended"]),
    started_at: z.string(),
    expires_at: z.string().nullable(),
    cap_currency: z.string(),
    caps: z.object({
      per_call: z.number().int().nullable(),
      per_session: capView.nullable(),
      per_day: capView.nullable(),
      per_customer_per_day: z.number().int().nullable(),
    }),
    calls: z.record(z.string(), z.number().int()),
    tools: z.array(z.string()),
  }),
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  kind: "session",
  permissions: {},
  ruleParams: [],
  async handle(control) {
    const status = await control.status();
    const left = (view: { left: number } | null) => (view ? String(view.left) : "no cap");
    return {
      output: status,
      text: `Session ${status.session_id} is ${status.state}. Left (${status.cap_currency} minor units): session ${left(status.caps.per_session)}, day ${left(status.caps.per_day)}.`,
    };
  },
});
