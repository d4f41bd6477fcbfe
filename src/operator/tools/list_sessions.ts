import { z } from "zod";
import type { SessionSummary } from "../../store/store.js";
import { defineOperatorTool, READ_ONLY } from "../tool.js";

const sessionView = z.object({
  session_id: z.string(),
  agent: z.string(),
  policy: z.string(),
  state: z.enum(["active", "killed", "expired", "ended"]),
  started_at: z.string(),
  state_changed_at: z.string().nullable(),
  killed_by: z.string().nullable(),
  reason: z.string().nullable().describe("Why it was killed or ended."),
  key_id: z.string().nullable().describe("The agent key that opened it; null for stdio sessions."),
  calls: z.number().int(),
  denied: z.number().int(),
  spent: z.number().int().describe("Counted against its caps, in minor units of cap_currency."),
  cap_currency: z.string().nullable(),
  last_call_at: z.string().nullable(),
});

export const listSessions = defineOperatorTool({
  name: "list_sessions",
  title: "List agent sessions",
  description:
    "Lists agent sessions on this spendguard data directory, newest first: id, agent, policy, state (active, killed, expired, ended), who killed it and why, the agent key that opened it, calls, denials and money counted against its caps (integers in the cap currency's smallest unit). Only active sessions unless `state` says otherwise. Changes nothing.",
  input: z
    .object({
      state: z
        .enum(["active", "killed", "expired", "ended", "all"])
        .default("active")
        .describe("Which sessions: one state, or all."),
      agent: z.string().min(1).max(64).optional().describe("Only this agent's sessions."),
      limit: z.number().int().min(1).max(500).default(100).describe("At most this many."),
    })
    .strict(),
  output: z.object({ count: z.number().int(), sessions: z.array(sessionView) }),
  annotations: READ_ONLY,
  async handle(ctx, args) {
    const summaries = await ctx.store.sessionSummaries({
      ...(args.state === "all" ? {} : { state: args.state }),
      ...(args.agent === undefined ? {} : { agent: args.agent }),
      limit: args.limit,
    });
    const sessions = await Promise.all(
      summaries.map(async (s) => view(s, (await ctx.store.sessionKey(s.id)) ?? null)),
    );
    const lines = sessions.map(
      (s) =>
        `${s.session_id} ${s.agent} (${s.policy}) ${s.state}, ${s.calls} call(s), ${s.denied} denied`,
    );
    return {
      output: { count: sessions.length, sessions },
      text:
        sessions.length === 0
          ? `No ${args.state === "all" ? "" : `${args.state} `}sessions.`
          : `${sessions.length} session(s):\n${lines.join("\n")}`,
    };
  },
});

function view(s: SessionSummary, keyId: string | null): z.output<typeof sessionView> {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return {
    session_id: s.id,
    agent: s.agent,
    policy: s.policy_name,
    state: s.state,
    started_at: new Date(s.started_at).toISOString(),
    state_changed_at: iso(s.state_changed_at),
    killed_by: s.killed_by,
    reason: s.kill_reason,
    key_id: keyId,
    calls: s.calls,
    denied: s.denied,
    spent: s.spent,
    cap_currency: s.cap_currency,
    last_call_at: s.last_call_at,
  };
}
