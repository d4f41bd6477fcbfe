import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CreatedKey, createKey, ROOT, runCli, tempHome } from "../http/harness.js";

/**
 * `spendguard console` alone on a data directory, over plain HTTP: the sign-in exchange
 * (form token, cookie), Host checks as on /mcp, and a clear failure without data.
 */

let home: ReturnType<typeof tempHome>;
let child: ChildProcess;
let url: string;
let operator: CreatedKey;
let agent: CreatedKey;

beforeAll(async () => {
  home = tempHome();
  operator = await createKey(home.dir, ["--operator", "--name", "bob"]);
  agent = await createKey(home.dir, [
    "--agent",
    "support-bot",
    "--policy",
    join(ROOT, "policies/support-refunds.yaml"),
  ]);
  child = spawn(process.execPath, [CLI, "console", "--port", "0", "--home", home.dir], {
    env: { PATH: process.env.PATH ?? "", SPENDGUARD_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = await new Promise<string>((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`no "listening" line:\n${stderr}`)), 10_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
  });
});

afterAll(() => {
  child?.kill("SIGTERM");
  home?.cleanup();
});

/** Fetches the sign-in form and posts `key` with its form token; returns the answer. */
async function signIn(key: string): Promise<Response> {
  const form = await fetch(`${url}/console/sign-in`);
  const cookie = (form.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const token = /name="form_token" value="([^"]+)"/.exec(await form.text())?.[1] ?? "";
  return fetch(`${url}/console/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ form_token: token, next: "/console", key }).toString(),
  });
}

describe("spendguard console", () => {
  it("sends a visitor to sign in, and an operator key signs in with a strict cookie", async () => {
    const first = await fetch(`${url}/console/audit`, { redirect: "manual" });
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/console/sign-in?next=%2Fconsole%2Faudit");
    const answer = await signIn(operator.key);
    expect(answer.status).toBe(303);
    expect(answer.headers.get("location")).toBe("/console");
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith("spendguard_operator="));
    expect(cookie).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const overview = await fetch(`${url}/console`, {
      headers: { Cookie: (cookie ?? "").split(";")[0] ?? "" },
    });
    expect(overview.status).toBe(200);
    expect(overview.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(overview.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    const page = await overview.text();
    expect(page).toContain("Nothing here yet");
    expect(page).not.toContain(operator.key);
  });

  it("refuses an agent key, a sign-in without its form token, and a foreign Host", async () => {
    const refused = await signIn(agent.key);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("agent keys cannot sign in");
    const tokenless = await fetch(`${url}/console/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: operator.key }).toString(),
    });
    expect(tokenless.status).toBe(403);
    expect(tokenless.headers.getSetCookie().some((c) => c.startsWith("spendguard_operator="))).toBe(
      false,
    );
    const port = new URL(url).port;
    const rebound = await new Promise<number>((resolve, reject) => {
      import("node:http").then(({ request }) => {
        const req = request(
          { host: "127.0.0.1", port, path: "/console", headers: { Host: `evil.example:${port}` } },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on("error", reject);
        req.end();
      }, reject);
    });
    expect(rebound).toBe(403);
  });

  it("fails clearly on a data directory without a database", async () => {
    const empty = tempHome();
    const run = await runCli(["console", "--port", "0", "--home", empty.dir]);
    empty.cleanup();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no spendguard data in");
  });
});
