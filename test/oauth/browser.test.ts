import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createKey,
  type HttpServer,
  ROOT,
  runCli,
  startHttpServer,
  tempHome,
} from "../http/harness.js";

/**
 * Real clients through the full browser flow, with Debian's Chromium (driven by
 * playwright-core) completing the operator's sign-in and consent: mcp-remote (how Claude
 * Desktop reaches a remote server) and the v2 SDK client's OAuth support, including a
 * token refresh. Without Chromium the suite skips, saying why; CI makes that a failure.
 */

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM && process.env.CI) {
  throw new Error(
    `${CHROMIUM} is missing: CI installs Debian's chromium for the OAuth browser tests`,
  );
}
const MCP_REMOTE = join(ROOT, "node_modules/mcp-remote/dist/proxy.js");
const POLICY = join(ROOT, "policies/support-refunds.yaml");
const STEP_MS = 60_000;

let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let operatorKey: string;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  home = tempHome();
  operatorKey = (await createKey(home.dir, ["--operator", "--name", "ops"])).key;
  // Access tokens of 5 s: the v2 client has to refresh within the test.
  server = await startHttpServer({
    home: home.dir,
    env: {},
    args: ["--sandbox", "--access-token-ttl", "5s"],
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
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
  await page.waitForURL((to) => !to.href.startsWith(server.url), { timeout: STEP_MS });
}

function authorizationUrls(stderr: () => string, after = 0): Promise<string> {
  return new Promise((found, fail) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const match = /Please authorize this client by visiting:\s*(\S+)/.exec(stderr().slice(after));
      if (match?.[1]) {
        clearInterval(timer);
        found(match[1]);
      } else if (Date.now() - started > STEP_MS) {
        clearInterval(timer);
        fail(new Error(`mcp-remote printed no authorization URL:\n${stderr()}`));
      }
    }, 100);
  });
}

// Each test spawns clients and waits on a browser: bounded, but above the default 30 s.
describe.skipIf(!HAVE_CHROMIUM)("OAuth in a real browser", { timeout: 180_000 }, () => {
  it("mcp-remote signs in through the consent page; the grant's revocation refuses the next call and says so", async () => {
    let stderr = "";
    const stdio = new StdioClientTransport({
      command: process.execPath,
      args: [MCP_REMOTE, `${server.url}/mcp`, "--transport", "http-only"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home.dir,
        MCP_REMOTE_CONFIG_DIR: join(home.dir, "mcp-auth"),
        // No desktop here to open a browser on: mcp-remote prints the URL, Chromium opens it.
        BROWSER: "false",
      },
      stderr: "pipe",
    });
    stdio.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: "claude-desktop-stand-in", version: "0" });
    const connected = client.connect(stdio);
    await consentInBrowser(await authorizationUrls(() => stderr), "approve", "desktop");
    await connected;
    try {
      const tools = (await client.listTools()).tools.map((tool) => tool.name);
      expect(tools).toContain("issue_refund");
      const refund = await client.callTool({
        name: "issue_refund",
        arguments: {
          charge: "ch_SgAcmeLarge500Usd",
          amount: 1000,
          reason: "requested_by_customer",
        },
      });
      expect(refund.isError).toBeFalsy();
      const outOfScope = await client.callTool({
        name: "issue_refund",
        arguments: { charge: "ch_SgGlobexEur75", amount: 1000, reason: "duplicate" },
      });
      expect(outOfScope.isError).toBe(true);
      expect(JSON.stringify(outOfScope.content)).toContain("customer_out_of_scope");

      const listed = JSON.parse(
        (await runCli(["keys", "list", "--json", "--home", home.dir])).stdout,
      ) as {
        id: string;
        name: string;
        credential: string;
      }[];
      const grant = listed.find((k) => k.credential === "oauth_grant" && k.name === "desktop");
      expect(grant).toBeDefined();
      await runCli(["keys", "revoke", grant?.id ?? "", "--home", home.dir]);

      const mark = stderr.length;
      const next = client
        .callTool({ name: "lookup_charge", arguments: { charge: "ch_SgAcmeLarge500Usd" } })
        .then(
          (result) => ({ refused: false, text: JSON.stringify(result) }),
          (error: Error) => ({ refused: true, text: error.message }),
        );
      // mcp-remote asks to sign in again; the operator sees the revocation and declines.
      const again = await authorizationUrls(() => stderr, mark);
      await page.goto(again);
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
    await expect(first.connect(new V2Transport(url, { authProvider: provider }))).rejects.toThrow();
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
        arguments: { charge: "ch_SgAcmeLarge500Usd" },
      });
      expect(lookup.isError).toBeFalsy();
      expect(provider.saved?.access_token).not.toBe(before);
      expect(provider.redirects).toBe(visits);
    } finally {
      await client.close().catch(() => undefined);
      callback.close();
    }
  });
});

/** The redirect URI of a native client: a loopback server that receives the code. */
async function callbackServer(): Promise<{
  url: string;
  code: Promise<{ code: string; iss: string | undefined }>;
  close(): void;
}> {
  let deliver: (value: { code: string; iss: string | undefined }) => void = () => undefined;
  const code = new Promise<{ code: string; iss: string | undefined }>((done) => {
    deliver = done;
  });
  const http = createServer((req, res) => {
    const query = new URL(req.url ?? "/", "http://127.0.0.1").searchParams;
    res.end("You may close this window.");
    const got = query.get("code");
    if (got) deliver({ code: got, iss: query.get("iss") ?? undefined });
  });
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/callback`, code, close: () => http.close() };
}

/** What a desktop client keeps between runs, in memory. */
class MemoryProvider implements OAuthClientProvider {
  saved: StoredOAuthTokens | undefined;
  redirects = 0;
  private client: StoredOAuthClientInformation | undefined;
  private verifier = "";
  private discovery: OAuthDiscoveryState | undefined;

  constructor(
    private readonly redirect: string,
    private readonly open: (url: URL) => Promise<void>,
  ) {}

  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata() {
    return {
      client_name: "v2 SDK test client",
      redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.redirects++;
    await this.open(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}
