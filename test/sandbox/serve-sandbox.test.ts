import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/sandbox/index.js";
import { CLI, POLICIES, runCli } from "../cli/helpers.js";

/**
 * `serve --sandbox` as mcp.json runs it, restarted: the sandbox's Stripe data lives in
 * the data directory beside the ledger, so a refund made before a restart is still in
 * the sandbox after it and still counted by `spendguard report`; `spendguard sandbox
 * reset` clears both together.
 */

const home = mkdtempSync(join(tmpdir(), "sg-serve-sandbox-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function serveSandbox(): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--sandbox", "--policy", join(POLICIES, "support-refunds.yaml")],
    env: { PATH: process.env.PATH ?? "", SPENDGUARD_HOME: home, SPENDGUARD_LOG_LEVEL: "info" },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client({ name: "sandbox-restart-test", version: "0.0.0" });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

async function moved(): Promise<number> {
  const run = await runCli(["report", "--json", "--home", home]);
  expect(run.code, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout) as { totals: { money: { moved: number }[] } };
  return report.totals.money.reduce((sum, m) => sum + m.moved, 0);
}

describe("serve --sandbox across restarts", () => {
  let refundId = "";

  it("keeps a refund in the sandbox and in the ledger after a restart", async () => {
    const first = await serveSandbox();
    const refunded = await call(first.client, "issue_refund", {
      charge: DEMO.charges.acmeLarge,
      amount: 2_500,
      reason: "requested_by_customer",
    });
    expect(refunded.isError, JSON.stringify(refunded.content)).toBeFalsy();
    refundId = (refunded.structuredContent as { id: string }).id;
    expect(first.stderr()).toContain(`"state":"${join(home, "sandbox.json")}"`);
    expect(first.stderr()).toContain('"restored":false');
    await first.client.close();

    const second = await serveSandbox();
    expect(second.stderr()).toContain('"restored":true');
    const found = await call(second.client, "lookup_refund", { refund: refundId });
    expect(found.isError, JSON.stringify(found.content)).toBeFalsy();
    expect(found.structuredContent).toMatchObject({ id: refundId, charge: DEMO.charges.acmeLarge });
    await second.client.close();

    expect(await moved()).toBe(2_500);
  });

  it("refuses a second sandbox on the same data directory while one runs", async () => {
    const running = await serveSandbox();
    const other = await runCli(["sandbox", "--port", "0", "--home", home]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("is in use by another running sandbox");
    const reset = await runCli(["sandbox", "reset", "--home", home, "--yes"]);
    expect(reset.code).toBe(1);
    expect(reset.stderr).toMatch(
      /a sandbox is running on .+ Stop it first\.\nNothing was deleted\./,
    );
    await running.client.close();
  });

  it("sandbox reset clears the sandbox and the ledger together", async () => {
    const reset = await runCli(["sandbox", "reset", "--home", home, "--yes"]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(
      /sandbox\.json: the sandbox's Stripe data \(seed demo\), 7 customer\(s\), \d+ charge\(s\), 3 refund\(s\)/,
    );
    expect(reset.stdout).toMatch(
      /spendguard\.db: the ledger, 3 session\(s\), \d+ audit row\(s\), 0 key\(s\)/,
    );
    expect(existsSync(join(home, "spendguard.db"))).toBe(false);

    const fresh = await serveSandbox();
    expect(fresh.stderr()).toContain('"restored":false');
    const gone = await call(fresh.client, "lookup_refund", { refund: refundId });
    expect(gone.isError).toBe(true);
    await fresh.client.close();
    expect(await moved()).toBe(0);
  });
});
