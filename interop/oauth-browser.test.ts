import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHARGES,
  childEnv,
  cli,
  createKey,
  type Home,
  type HttpServer,
  POLICY,
  revokeKey,
  STEP_MS,
  startHttpServer,
  tempHome,
} from "./harness.js";
import { callbackServer, MemoryProvider } from "./oauth.js";

/**
 * Real clients through the whole OAuth flow, with Debian's Chromium (driven by
 * playwright-core, no browser download) doing the operator's sign-in and consent:
 * mcp-remote (how Claude Desktop reaches a remote server) and the v2 SDK client's OAuth
 * support, including a token refresh. Without Chromium the tests skip and say why, unless
 * SPENDGUARD_REQUIRE_CHROMIUM=1 (as CI sets it) makes that a failure.
 */

const CHROMIUM = process.env.SPENDGUARD_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const NO_CHROMIUM = `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set SPENDGUARD_CHROMIUM)`;
if (!HAVE_CHROMIUM && process.env.SPENDGUARD_REQUIRE_CHROMIUM === "1") throw new Error(NO_CHROMIUM);
const MCP_REMOTE = join(import.meta.dirname, "node_modules/mcp-remote/dist/proxy.js");
/** A page or mcp-remote's next line, on a busy machine. */
const WAIT_MS = 2 * STEP_MS;

let home: Home;
let server: HttpServer;
let operatorKey: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  home = tempHome();
  operatorKey = (await createKey(home.dir, ["--operator", "--name", "ops"])).key;
  // Access tokens of 5 s: the v2 client has to refresh within the test.
  server = await startHttpServer(home.dir, ["--access-token-ttl", "5s"]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_MS,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  page = await (await browser.newContext()).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  home?.cleanup();
});

/** The person at the browser: signs in as the operator if asked, then chooses on the consent page. */
async function consentInBrowser(url: string, choice: "approve" | "decline", agent: string) {
  await page.goto(url);
  if (page.url().includes("/console/sign-in")) {
    await page.fill("#key", operatorKey);
    await Promise.all([page.waitForURL(/\/authorize\?/), page.click("button[type=submit]")]);
  }
  await page.waitForSelector("#approve");
  if (choice === "approve") {
    await page.fill("#agent", agent);
    await page.selectOption("#policy", POLICY);
  }
  await page.click(choice === "approve" ? "#approve" : "#decline");
  await page.waitForURL((to) => !to.href.startsWith(server.url), { timeout: WAIT_MS });
}

/** The authorization URL mcp-remote prints (it cannot open a browser here), after `after`. */
function authorizationUrl(stderr: () => string, after = 0): Promise<string> {
  return new Promise((found, fail) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const match = /Please authorize this client by visiting:\s*(\S+)/.exec(stderr().slice(after));
      if (match?.[1]) {
        clearInterval(timer);
        found(match[1]);
      } else if (Date.now() - started > WAIT_MS) {
        clearInterval(timer);
        fail(new Error(`mcp-remote printed no authorization URL:\n${stderr()}`));
      }
    }, 100);
  });
}

describe.skipIf(!HAVE_CHROMIUM)(
  `OAuth in a real browser${HAVE_CHROMIUM ? "" : ` (skipped: ${NO_CHROMIUM})`}`,
  () => {
    it("mcp-remote signs in through the consent page; the grant's revocation refuses the next call and says so", async () => {
      let stderr = "";
      const stdio = new StdioClientTransport({
        command: process.execPath,
        args: [MCP_REMOTE, `${server.url}/mcp`, "--transport", "http-only"],
        env: childEnv(home.dir, {
          MCP_REMOTE_CONFIG_DIR: join(home.dir, "mcp-auth"),
          // No desktop here to open a browser on: mcp-remote prints the URL, Chromium opens it.
          BROWSER: "false",
        }),
        stderr: "pipe",
      });
      stdio.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const client = new Client({ name: "claude-desktop-stand-in", version: "0" });
      const connected = client.connect(stdio);
      await consentInBrowser(await authorizationUrl(() => stderr), "approve", "desktop");
      await connected;
      try {
        const tools = (await client.listTools()).tools.map((tool) => tool.name);
        expect(tools).toContain("issue_refund");
        const refund = await client.callTool({
          name: "issue_refund",
          arguments: { charge: CHARGES.acmeLarge, amount: 1000, reason: "requested_by_customer" },
        });
        expect(refund.isError).toBeFalsy();
        const outOfScope = await client.callTool({
          name: "issue_refund",
          arguments: { charge: CHARGES.globex, amount: 1000, reason: "duplicate" },
        });
        expect(outOfScope.isError).toBe(true);
        expect(JSON.stringify(outOfScope.content)).toContain("customer_out_of_scope");

        const listed = JSON.parse(await cli(home.dir, ["keys", "list", "--json"])) as {
          id: string;
          name: string;
          credential: string;
        }[];
        const grant = listed.find((k) => k.credential === "oauth_grant" && k.name === "desktop");
        expect(grant).toBeDefined();
        await revokeKey(home.dir, grant?.id ?? "");

        const mark = stderr.length;
        const next = client
          .callTool({ name: "lookup_charge", arguments: { charge: CHARGES.acmeLarge } })
          .then(
            (result) => ({ refused: false, text: JSON.stringify(result) }),
            (error: Error) => ({ refused: true, text: error.message }),
          );
        // mcp-remote asks to sign in again; the operator sees the revocation and declines.
        await page.goto(await authorizationUrl(() => stderr, mark));
        await page.waitForSelector("#revoked-before");
        expect(await page.textContent("#revoked-before")).toContain(grant?.id ?? "");
        await page.click("#decline");
        const answer = await next;
        expect(answer.refused).toBe(true);
        expect(answer.text).toContain("revoked");
        expect(stderr.slice(mark)).toMatch(/Authorization failed: access_denied - .*was revoked/);
      } finally {
        await client.close().catch(() => undefined);
      }
    });

    it("the v2 SDK client: authorization code with PKCE, then a token refresh without the browser", async () => {
      const callback = await callbackServer();
      const provider = new MemoryProvider(callback.url, (url) =>
        consentInBrowser(url.href, "approve", "v2-client"),
      );
      const url = new URL(`${server.url}/mcp`);
      const first = new V2Client({ name: "v2-oauth", version: "0" });
      await expect(
        first.connect(new V2Transport(url, { authProvider: provider })),
      ).rejects.toThrow();
      const code = await callback.code;
      const transport = new V2Transport(url, { authProvider: provider });
      await transport.finishAuth(code.code, code.iss);
      const client = new V2Client({ name: "v2-oauth", version: "0" });
      await client.connect(transport);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toContain("lookup_charge");
        const before = provider.saved?.access_token;
        expect(provider.saved?.refresh_token).toMatch(/^sg_rt_/);
        const visits = provider.redirects;
        await new Promise((done) => setTimeout(done, 5_500));
        const lookup = await client.callTool({
          name: "lookup_charge",
          arguments: { charge: CHARGES.acmeLarge },
        });
        expect(lookup.isError).toBeFalsy();
        expect(provider.saved?.access_token).not.toBe(before);
        expect(provider.redirects).toBe(visits);
      } finally {
        await client.close().catch(() => undefined);
        callback.close();
      }
    });
  },
);
