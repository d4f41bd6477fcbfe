import type { AnyOperatorTool } from "../tool.js";
import { killAgent } from "./kill_agent.js";
import { killAll } from "./kill_all.js";
import { killSession } from "./kill_session.js";
import { listSessions } from "./list_sessions.js";
import { spendSummary } from "./spend_summary.js";

/** Every operator tool, in the order `tools/list` shows them. */
export const OPERATOR_TOOLS: readonly AnyOperatorTool[] = [
  listSessions,
  killSession,
  killAgent,
  killAll,
  spendSummary,
];
