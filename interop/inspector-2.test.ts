import { describe, expect, it } from "vitest";
import { createAgentKey, revokeKey } from "./harness.js";
import { inspector, inspectorScenarios } from "./inspector.js";

const http = inspectorScenarios("2.x");

describe("MCP Inspector 2.x with a revoked key", () => {
  it("says the key was revoked (scripts use --stored-auth-only: no browser sign-in)", async () => {
    const made = await createAgentKey(http.home(), "inspector-revoked");
    await revokeKey(http.home(), made.id);
    const { code, stdout, stderr } = await inspector(
      "2.x",
      http.home(),
      [http.url("/mcp"), "--header", `Authorization: Bearer ${made.key}`],
      ["--method", "tools/list", "--stored-auth-only"],
    );
    expect(code).not.toBe(0);
    expect(`${stdout}${stderr}`).toContain("This key was revoked; ask the operator for a new one.");
  });
});
