import type { CapView, SessionControl, SessionStatusView } from "../../tools/tool.js";
import type { LoadedPolicy } from "../policy/load.js";
import type { SessionRecord, Store } from "../store/store.js";
import { endSession } from "./sessions.js";

/** What `session_status` and `end_session` see: the session, its caps and what is left. */
export function sessionControl(options: {
  store: Store;
  policy: LoadedPolicy;
  sessionId: string;
  toolNames: () => string[];
  clock: () => number;
}): SessionControl {
  const { store, policy, sessionId, clock } = options;
  const session = async (): Promise<SessionRecord> => {
    const row = await store.getSession(sessionId);
    if (!row) throw new Error(`session ${sessionId} vanished from the store`);
    return row;
  };
  return {
    async status(): Promise<SessionStatusView> {
      const row = await session();
      const now = clock();
      const usage = await store.usage({
        session: row.id,
        agent: row.agent,
        tool: "",
        customer: null,
        at: now,
      });
      const view = (cap: number | null, used: number): CapView | null =>
        cap === null ? null : { cap, used, left: Math.max(0, cap - used) };
      const expired = row.state === "active" && row.expires_at !== null && now >= row.expires_at;
      return {
        session_id: row.id,
        agent: row.agent,
        policy: row.policy_name,
        state: expired ? "expired" : row.state,
        started_at: new Date(row.started_at).toISOString(),
        expires_at: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
        cap_currency: policy.caps.currency,
        caps: {
          per_call: policy.caps.perCall,
          per_session: view(policy.caps.perSession, usage.sessionSpend),
          per_day: view(policy.caps.perDay, usage.daySpend),
          per_customer_per_day: policy.caps.perCustomerPerDay,
        },
        calls: await store.callsInSession(row.id),
        tools: options.toolNames(),
      };
    },
    async end(reason: string): Promise<void> {
      await endSession(store, sessionId, reason, clock());
    },
  };
}
