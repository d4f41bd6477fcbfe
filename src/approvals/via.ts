import type { Policy } from "../policy/schema.js";

/**
 * Who may say yes to a call that needs a person's approval, from the policy's
 * `approval_via` and the transport the session runs on. Pure, so that every server line
 * (MCP SDK v1 and v2, elicitation or `input_required`) asks the same question and gets
 * the same answer: may this session's client approve?
 *
 * Over HTTP the MCP client is the remote agent: an autonomous agent that declares
 * elicitation would approve its own refunds. So the client may approve there only when
 * the policy says `client` or `either`. Over stdio the user's own desktop client launched
 * the process, and it is asked unless the policy says `operator`.
 */

export type ApprovalVia = NonNullable<Policy["approval_via"]>;

/** How the session reaches spendguard: stdio (one process), or HTTP with an agent key. */
export type SessionTransport = "stdio" | "http";

export interface ApprovalPaths {
  /** The policy's `approval_via`, or the transport's default. */
  via: ApprovalVia;
  /** The MCP client's user may say yes, asked in-band (elicitation). */
  client: boolean;
  /** The operator may say yes, out of band (CLI, operator tools, console). */
  operator: boolean;
}

export function approvalPaths(
  via: ApprovalVia | undefined,
  transport: SessionTransport,
): ApprovalPaths {
  const chosen = via ?? (transport === "stdio" ? "client" : "operator");
  return { via: chosen, client: chosen !== "operator", operator: chosen !== "client" };
}

/** The path a decision came by, from who took it: the client's user answers as `elicitation`. */
export function decisionPath(decidedBy: string): "client" | "operator" {
  return decidedBy === "elicitation" ? "client" : "operator";
}
