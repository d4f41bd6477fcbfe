import { performance } from "node:perf_hooks";
import { operatorEntry } from "../../audit/operator-entry.js";
import { ConfigError } from "../../errors.js";
import { resumeAgent } from "../../operator/kill-switch.js";
import { newOperatorSessionId } from "../../operator/server.js";
import { HOME_FLAG, homeOf, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { withStore } from "../data.js";
import { tolerateClosedPipe } from "../format.js";

const USAGE = `Usage: spendguard resume --agent NAME [--reason TEXT]

Ends the pause of an agent that an alert rule stopped (a velocity rule with
action: pause killed its sessions "auto-pause: …" and refuses every session it starts
until an operator resumes it). Sessions it starts from now on work again; the sessions
the pause killed stay killed (a stdio agent's MCP client restarts its server, an HTTP
client opens a new session). Recorded in the audit as resume_agent by operator:cli.

  --agent NAME    the paused agent (\`spendguard resume\` alone lists the paused ones)
  --reason TEXT   why it may go on, kept with the pause and in the audit
  --home DIR      data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 resumed, 1 the agent is not paused, 2 usage.
`;

export const resumeCommand: CliCommand = {
  name: "resume",
  summary: "let a paused agent (auto-pause) start sessions again",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      agent: { type: "string" },
      reason: { type: "string" },
    });
    const home = homeOf(values.home, io.env);
    return withStore(home, async (store) => {
      const agent = values.agent?.trim();
      if (!agent) {
        const paused = (await store.listAgentHolds({ open: true })).map((hold) => hold.agent);
        throw new UsageError(
          `say which agent: --agent NAME (${paused.length ? `paused: ${paused.join(", ")}` : "no agent is paused"})`,
        );
      }
      const started = performance.now();
      const now = Date.now();
      const reason = values.reason?.trim() || null;
      const entry = operatorEntry({
        at: now,
        session: newOperatorSessionId(),
        operator: "operator:cli",
        tool: "resume_agent",
        args: { agent, ...(reason ? { reason } : {}) },
        decision: "allow",
        outcome: "ok",
        code: null,
        reason: `Resumed agent ${agent}${reason ? `: ${reason}` : ""}.`,
        durationMs: performance.now() - started,
      });
      if (!(await resumeAgent(store, agent, { by: "cli", reason, now }, entry))) {
        throw new ConfigError(`agent '${agent}' is not paused: nothing to resume.`);
      }
      io.stdout.write(`Resumed agent '${agent}': the sessions it starts from now on work again.\n`);
      return 0;
    });
  },
};
