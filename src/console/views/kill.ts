import { cleanReason } from "../../audit/text.js";
import { type KillTarget, stopSessions } from "../../operator/kill-switch.js";
import { actor, type ConsoleContext } from "../context.js";
import { html } from "../html.js";
import { CONSOLE_PATH, csrfField, type NavState, notice, page } from "../layout.js";
import type { SignedIn } from "../sign-in.js";
import { sessionHref } from "./rows.js";

/**
 * Kill, from the console: a session, an agent's sessions, or all. The button leads to
 * this page, which asks for a reason and a confirmation; the POST then does what
 * `spendguard kill` does (the same `stopSessions`), by `console:<operator>`.
 */

export const KILL_PATH = `${CONSOLE_PATH}/kill`;

export type KillChoice = { session: string } | { agent: string } | { all: true };

/** What the kill page's query or form names; undefined when it names nothing usable. */
export function killChoice(params: URLSearchParams): KillChoice | undefined {
  const session = params.get("session");
  if (session) return { session };
  const agent = params.get("agent");
  if (agent) return { agent };
  if (params.get("all") === "1") return { all: true };
  return undefined;
}

function describe(choice: KillChoice): string {
  if ("session" in choice) return `session ${choice.session}`;
  if ("agent" in choice) return `every active session of agent ${choice.agent}`;
  return "every active session, and every session started later (until kill/ALL is removed)";
}

export function killPage(nav: NavState, choice: KillChoice, problem: string | null = null): string {
  const [name, value] =
    "session" in choice
      ? ["session", choice.session]
      : "agent" in choice
        ? ["agent", choice.agent]
        : ["all", "1"];
  const back = "session" in choice ? sessionHref(choice.session) : CONSOLE_PATH;
  const body = html`<h1>Kill ${"all" in choice ? "all sessions" : "session" in choice ? "a session" : "an agent"}</h1>
${notice(problem, "error")}
<form class="kill" method="post" action="${KILL_PATH}">
${csrfField(nav.csrf)}
<input type="hidden" name="${name}" value="${value}">
<p>This stops <strong>${describe(choice)}</strong>. The agent's very next call is refused
(<code>session_killed</code>) before anything reaches Stripe, exactly as with <code>spendguard kill</code>. A killed session never comes back.</p>
<label for="reason">Reason (shown to the agent, kept in the session and audit)</label>
<textarea id="reason" name="reason" required maxlength="500" rows="2" autofocus></textarea>
<p class="buttons"><button type="submit" class="danger">Kill ${"all" in choice ? "all" : "it"}</button> <a href="${back}">Cancel</a></p>
</form>`;
  return page({ title: "Kill", body, nav });
}

export type KillDone =
  | { ok: true; message: string; back: string }
  | { ok: false; status: number; message: string };

export async function kill(
  ctx: ConsoleContext,
  signedIn: SignedIn,
  choice: KillChoice,
  reasonText: string,
): Promise<KillDone> {
  const reason = cleanReason(reasonText);
  if (!reason)
    return { ok: false, status: 400, message: "Say why: the reason is shown to the agent." };
  let target: KillTarget;
  if ("session" in choice) {
    const session = await ctx.store.getSession(choice.session);
    if (!session) return { ok: false, status: 404, message: `No session ${choice.session}.` };
    target = { session };
  } else target = choice;
  const outcome = await stopSessions(ctx.store, ctx.home, target, { by: actor(signedIn), reason });
  ctx.logger.info(
    { by: actor(signedIn), killed: outcome.killed.length, target: choice },
    "console kill",
  );
  if (outcome.notActive) {
    return {
      ok: true,
      message: `Session ${outcome.notActive.id} is already ${outcome.notActive.state}: nothing to kill.`,
      back: sessionHref(outcome.notActive.id),
    };
  }
  if ("session" in choice) {
    return {
      ok: true,
      message: `Killed session ${choice.session}: its next call is refused.`,
      back: sessionHref(choice.session),
    };
  }
  return {
    ok: true,
    message:
      "agent" in choice
        ? `Killed ${outcome.killed.length} active session(s) of agent ${choice.agent}.`
        : `Killed ${outcome.killed.length} active session(s); sessions started from now on are refused too, until the kill/ALL flag is removed.`,
    back: CONSOLE_PATH,
  };
}
