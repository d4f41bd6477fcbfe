import {
  type ApprovalView,
  approvalAmount,
  approvalCall,
  approvalView,
  approvalViews,
  decideApproval,
} from "../../approvals/decisions.js";
import { printableLines } from "../../audit/text.js";
import { ConfigError } from "../../errors.js";
import type { ApprovalState } from "../../store/store.js";
import { HOME_FLAG, homeOf, parseCount, parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { withStore } from "../data.js";
import { formatTime, shortId, styleFor, table, tolerateClosedPipe } from "../format.js";

/**
 * The operator's side of approvals (policy `require_approval_over` / `require_approval_for`):
 * `spendguard approvals` lists the requests, `approve ID` and `reject ID` decide one. The
 * agent whose call asked retries the very same call, which then goes through (the caps
 * still apply) or is refused with `approval_declined`.
 */

const DECIDE_USAGE = (
  verb: "approve" | "reject",
) => `Usage: spendguard ${verb} APPROVAL_ID [--reason TEXT] [--home DIR]

${
  verb === "approve"
    ? `Approves a pending request (apr_…, as \`spendguard approvals --pending\` lists it). The
agent's next call with exactly the same arguments, in the same session, goes through
once — the caps still apply — within the policy's approval_ttl.`
    : `Rejects a pending request (apr_…, as \`spendguard approvals --pending\` lists it). The
agent's calls with exactly the same arguments are refused (approval_declined) for the
policy's approval_ttl.`
}
The decision, who took it (cli) and the reason go into the audit.

  --reason TEXT   why, kept with the request and in the audit (shown to the agent on a no)
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 done, 1 no such request, already decided, expired, or (approve) its session
can no longer call; 2 usage.
`;

function decideCommand(verb: "approve" | "reject"): CliCommand {
  return {
    name: verb,
    summary:
      verb === "approve"
        ? "approve a pending approval request: the agent's retry of that call goes through"
        : "reject a pending approval request: the agent's retry is refused",
    usage: DECIDE_USAGE(verb),
    async run(argv, io) {
      const { values, positionals } = parseFlags(
        argv,
        { ...HOME_FLAG, reason: { type: "string" } },
        { positionals: true },
      );
      const [id, ...extra] = positionals;
      if (id === undefined) throw new UsageError(`say which request: spendguard ${verb} apr_…`);
      if (extra.length > 0)
        throw new UsageError(`one request at a time, got also: ${extra.join(" ")}`);
      const now = Date.now();
      const outcome = await withStore(
        homeOf(values.home, io.env),
        async (store) =>
          await decideApproval(store, id, {
            approve: verb === "approve",
            by: "cli",
            reason: values.reason,
            now,
          }),
      );
      if (!outcome.ok) throw new ConfigError(outcome.message);
      const view = approvalView(outcome.approval, now);
      io.stdout.write(
        verb === "approve"
          ? `Approved ${view.id}: ${approvalCall(view)} (session ${view.session}).\nThe agent's next identical call goes through once (the caps still apply), until ${formatTime(view.expires_at)} UTC.\n`
          : `Rejected ${view.id}: ${approvalCall(view)} (session ${view.session}).\nThe agent's identical calls are refused (approval_declined) until ${formatTime(view.expires_at)} UTC.\n`,
      );
      return 0;
    },
  };
}

export const approveCommand = decideCommand("approve");
export const rejectCommand = decideCommand("reject");

const LIST_USAGE = `Usage: spendguard approvals [--pending] [--session ID] [--agent NAME] [--limit N]
                            [--json] [--home DIR]

Lists approval requests, newest first: id, state, when, session, agent, tool, amount,
customer, and who decided. States: pending (waiting for a decision), approved (usable
by one identical call), used, rejected, expired (nobody decided in time, or a yes was not
used within approval_ttl). With --pending, each waiting request is printed in full, as
the person deciding should read it, with the commands to decide it.

Options:
  --pending       only requests waiting for a decision now (not expired, and their
                  session still active: one that ended can use no approval)
  --session ID    only this session's requests
  --agent NAME    only this agent's requests
  --limit N       at most N requests (default 50; 0 for all)
  --json          one JSON array (money in minor units, times ISO)
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0, 1 if the data directory holds no database, 2 usage.
`;

export const approvalsCommand: CliCommand = {
  name: "approvals",
  summary: "list approval requests (--pending: those waiting for a decision)",
  usage: LIST_USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      pending: { type: "boolean" },
      session: { type: "string" },
      agent: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    const limit = values.limit === undefined ? 50 : parseCount("limit", values.limit);
    const now = Date.now();
    const home = homeOf(values.home, io.env);
    const views = await withStore(
      home,
      async (store) =>
        await approvalViews(
          store,
          {
            pending: values.pending,
            session: values.session,
            agent: values.agent,
            ...(limit > 0 ? { limit } : {}),
          },
          now,
        ),
    );
    if (values.json) {
      io.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      return 0;
    }
    if (views.length === 0) {
      io.stdout.write(`No ${values.pending ? "pending " : ""}approval requests in ${home}.\n`);
      return 0;
    }
    writeTable(io, views);
    if (values.pending) for (const view of views) writePending(io, view);
    return 0;
  },
};

function writeTable(io: CliIO, views: ApprovalView[]): void {
  const style = styleFor(io.stdout, io.env);
  const paint: Record<ApprovalState, (text: string) => string> = {
    pending: style.yellow,
    approved: style.green,
    used: style.green,
    rejected: style.red,
    expired: style.dim,
  };
  const rows = views.map((v) => [
    v.id,
    v.state,
    formatTime(v.created_at),
    shortId(v.session),
    v.agent,
    v.tool,
    approvalAmount(v),
    v.customer ?? "",
    v.decided_by ? `${v.decided_by}${v.decision_reason ? `: ${v.decision_reason}` : ""}` : "",
  ]);
  io.stdout.write(
    table(
      [
        "APPROVAL",
        "STATE",
        "REQUESTED (UTC)",
        "SESSION",
        "AGENT",
        "TOOL",
        "AMOUNT",
        "CUSTOMER",
        "DECIDED BY",
      ],
      rows,
      {
        align: ["left", "left", "left", "left", "left", "left", "right", "left", "left"],
        header: style.bold,
        paint: (text, row, column) =>
          column === 1 ? paint[(views[row] as ApprovalView).state](text) : text,
      },
    ),
  );
}

function writePending(io: CliIO, view: ApprovalView): void {
  const body = printableLines(view.summary)
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
  io.stdout.write(
    `\n${view.id} (waiting until ${formatTime(view.expires_at)} UTC)\n${body}\n  Decide: spendguard approve ${view.id} [--reason TEXT]   or   spendguard reject ${view.id} [--reason TEXT]\n`,
  );
}
