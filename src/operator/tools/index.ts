import type { AnyOperatorTool } from "../tool.js";
import { approve } from "./approve.js";
import { killAgent } from "./kill_agent.js";
import { killAll } from "./kill_all.js";
import { killSession } from "./kill_session.js";
import { listPendingApprovals } from "./list_pending_approvals.js";
import { listSessions } from "./list_sessions.js";
import { listUnresolved } from "./list_unresolved.js";
import { reject } from "./reject.js";
import { resolveAdmissionTool } from "./resolve_admission.js";
import { resumeAgent } from "./resume_agent.js";
import { spendSummary } from "./spend_summary.js";

/** Every operator tool, in the order `tools/list` shows them. */
export const OPERATOR_TOOLS: readonly AnyOperatorTool[] = [
  listSessions,
  killSession,
  killAgent,
  killAll,
  spendSummary,
  listPendingApprovals,
  approve,
  reject,
  listUnresolved,
  resolveAdmissionTool,
  resumeAgent,
];
