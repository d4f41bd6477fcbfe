import type { Client, ElicitRequest, ElicitResult } from "@modelcontextprotocol/client";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { ApprovalRecord, AuditRecord } from "../../src/store/store.js";
import { runCli } from "../cli/helpers.js";
import { MODERN, newClient } from "../e2e/harness.js";

/** How a test client answers the server's approval questions; none: it cannot be asked. */
export type Answer = (request: ElicitRequest) => Promise<ElicitResult>;

/** An SDK client that declares elicitation and answers with `answer`, keeping the questions. */
export function clientFor(answer?: Answer): { client: Client; questions: ElicitRequest[] } {
  const questions: ElicitRequest[] = [];
  const client = newClient(
    "spendguard-approval-test",
    answer ? { capabilities: { elicitation: {} } } : {},
  );
  if (answer) {
    client.setRequestHandler("elicitation/create", (request) => {
      questions.push(request);
      return answer(request);
    });
  }
  return { client, questions };
}

export const accept: Answer = async () => ({ action: "accept", content: { approve: true } });
export const decline: Answer = async () => ({ action: "decline" });
/**
 * A person who never answers. On 2026-07-28 nothing on the server waits for an answer
 * (the client retries with it, or not), so there: one who says yes after the question
 * lapsed (the tests' approval_timeout is 1 s).
 */
export const never: Answer = MODERN
  ? () =>
      new Promise<ElicitResult>((r) =>
        setTimeout(() => r({ action: "accept", content: { approve: true } }), 1_600),
      )
  : () => new Promise<ElicitResult>(() => undefined);

/** `spendguard approve|reject|approvals …` as the operator runs it, on `home`. */
export const operator = (home: string, ...args: string[]) =>
  runCli(args, { env: { SPENDGUARD_HOME: home, NO_COLOR: "1" } });

/** The approval id a refusal names. */
export function approvalIdIn(text: string): string {
  const id = /apr_[0-9a-f]{24}/.exec(text)?.[0];
  if (!id) throw new Error(`no approval id in: ${text}`);
  return id;
}

export async function readStore<T>(
  home: string,
  read: (rows: { audit: AuditRecord[]; approvals: ApprovalRecord[] }) => T,
): Promise<T> {
  const store = openSqliteStore(home);
  try {
    return read({ audit: await store.queryAudit({}), approvals: await store.listApprovals({}) });
  } finally {
    await store.close();
  }
}
