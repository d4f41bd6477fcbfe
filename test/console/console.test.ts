import type { Browser, BrowserContext, Page } from "playwright-core";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { approvalIdIn } from "../approval/harness.js";
import { errorOf } from "../e2e/harness.js";
import {
  type Connected,
  type CreatedKey,
  call,
  connect,
  createKey,
  type HttpServer,
  outcome,
  policyFile,
  raw,
  runCli,
  startHttpServer,
  tempHome,
} from "../http/harness.js";
import {
  HAVE_CHROMIUM,
  launch,
  NO_CHROMIUM,
  REQUIRE_CHROMIUM,
  screenshot,
  signIn,
} from "./browser.js";

/**
 * The operator console in a real browser (Debian's Chromium), on a real `serve --http`
 * against the sandbox, with agents on the MCP SDK's HTTP client. What the agent is told
 * and what the sandbox received are the proof that the page's buttons did what they say.
 */

const CHARGE = DEMO.charges.acmeLarge;
const refund = (amount: number) => ({ charge: CHARGE, amount, reason: "requested_by_customer" });
const HOSTILE = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">=HYPERLINK("http://x")`;

if (!HAVE_CHROMIUM && REQUIRE_CHROMIUM) {
  describe("console in Chromium", () => {
    it("needs Chromium (SPENDGUARD_REQUIRE_CHROMIUM=1)", () => {
      throw new Error(NO_CHROMIUM);
    });
  });
} else if (!HAVE_CHROMIUM) {
  describe.skip(`console in Chromium (skipped: ${NO_CHROMIUM})`, () => {
    it("skipped", () => undefined);
  });
} else {
  let sandbox: Sandbox;
  let admin: Stripe;
  let home: ReturnType<typeof tempHome>;
  let server: HttpServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let operatorKey: CreatedKey;
  let agentKey: CreatedKey;
  const agents: Connected[] = [];

  const open = async () => {
    const agent = await connect(server.url, agentKey.key);
    agents.push(agent);
    return agent;
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, seed: "demo" });
    admin = new Stripe(sandbox.keys.admin, {
      host: "127.0.0.1",
      port: sandbox.port,
      protocol: "http",
      telemetry: false,
    });
    home = tempHome();
    const policy = policyFile(home.dir, "support-refunds", { require_approval_over: 40 });
    [operatorKey, agentKey] = await Promise.all([
      createKey(home.dir, ["--operator", "--name", "alice"]),
      createKey(home.dir, ["--agent", "support-bot", "--policy", policy]),
    ]);
    server = await startHttpServer({
      home: home.dir,
      env: {
        STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
        SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      },
      args: ["--rate-limit", "200"],
    });
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    for (const agent of agents) await agent.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await sandbox?.close();
    home?.cleanup();
  });

  describe("console in Chromium", () => {
    it("signs in with an operator key (HttpOnly, SameSite=Strict cookie) and shows a new install what to do", async () => {
      await signIn(page, server.url, operatorKey.key);
      expect(new URL(page.url()).pathname).toBe("/console");
      await expect(page.locator("main h2").first().textContent()).resolves.toBe("Nothing here yet");
      expect(await page.locator("main").textContent()).toContain("spendguard keys create --agent");
      const cookie = (await context.cookies()).find((c) => c.name === "spendguard_operator");
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
      expect(await page.content()).not.toContain(operatorKey.key);
      await screenshot(page, "01-empty-overview");
    });

    it("shows a live session appear and its session bar move as it refunds, then kills it from the page", async () => {
      await page.evaluate(() => {
        (globalThis as unknown as { __sameDocument: boolean }).__sameDocument = true;
      });
      const agent = await open();
      expect(outcome(await call(agent.client, "issue_refund", refund(1_000))).ok).toBe(true);
      const session = agent.sessionId() ?? "";
      const card = page.locator(`article.session[data-session="${session}"]`);
      const bar = card.locator('[data-cap="session"] meter');
      await bar.waitFor({ timeout: 10_000 });
      await expect.poll(() => bar.getAttribute("value"), { timeout: 10_000 }).toBe("1000");
      expect(await bar.getAttribute("max")).toBe("25000");
      expect(outcome(await call(agent.client, "issue_refund", refund(1_500))).ok).toBe(true);
      await expect.poll(() => bar.getAttribute("value"), { timeout: 10_000 }).toBe("2500");
      await expect.poll(() => card.locator("[data-calls]").textContent()).toBe("2");
      expect(await card.textContent()).toContain("$25.00 of $250.00");
      // No reload: the page that saw the session appear is the one that was opened.
      expect(
        await page.evaluate(
          () => (globalThis as unknown as { __sameDocument?: boolean }).__sameDocument,
        ),
      ).toBe(true);
      await screenshot(page, "02-live-overview");

      await Promise.all([
        page.waitForNavigation(),
        card.getByRole("link", { name: "Kill…" }).click(),
      ]);
      await page.fill("#reason", "refund loop suspected");
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Kill it" }).click(),
      ]);
      expect(new URL(page.url()).pathname).toBe(`/console/sessions/${session}`);
      expect(await page.locator(".notice").textContent()).toContain(`Killed session ${session}`);
      expect(await page.locator(".state-line").textContent()).toContain("by console:alice");
      await screenshot(page, "03-session-killed");

      const before = sandbox.requests.length;
      const refused = await call(agent.client, "issue_refund", refund(500));
      expect(errorOf(refused).code).toBe("session_killed");
      expect(errorOf(refused).message).toContain("refund loop suspected");
      expect(sandbox.requests.length).toBe(before);
    });

    it("approves a pending approval: the agent's retry goes through once", async () => {
      const agent = await open();
      const ask = await call(agent.client, "issue_refund", refund(4_500));
      expect(errorOf(ask).code).toBe("approval_required");
      const id = approvalIdIn(errorOf(ask).message);
      await page.goto(`${server.url}/console/approvals`);
      const card = page.locator(`article.approval[data-approval="${id}"]`);
      await card.waitFor();
      const text = (await card.textContent()) ?? "";
      expect(text).toContain("issue_refund of $45.00 for cus_SgAcmeJaneDoe");
      expect(text).toContain("require_approval_over");
      expect(text).toContain("support-bot");
      expect(await page.locator("nav .badge").textContent()).toBe("1");
      await screenshot(page, "04-approvals");
      await card.locator("input[name=note]").fill("customer called, ok");
      await Promise.all([
        page.waitForNavigation(),
        card.getByRole("button", { name: "Approve" }).click(),
      ]);
      expect(await page.locator(".notice").textContent()).toContain(`Approved ${id}`);

      const done = outcome(await call(agent.client, "issue_refund", refund(4_500)));
      expect(done.ok).toBe(true);
      // Once: the same call again is its repeat, answered from the record; another needs a yes.
      const again = outcome(await call(agent.client, "issue_refund", refund(4_500)));
      expect(again.ok && (again.data.spendguard as { replayed?: boolean }).replayed).toBe(true);
      const other = errorOf(await call(agent.client, "issue_refund", refund(4_600)));
      expect(other.code).toBe("approval_required");
      expect(approvalIdIn(other.message)).not.toBe(id);
      const refunds = await admin.refunds.list({ charge: CHARGE, limit: 100 });
      expect(refunds.data.filter((r) => r.amount === 4_500)).toHaveLength(1);
      const audit = await runCli(["audit", "--json", "--home", home.dir]);
      const decision = audit.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { rule: string | null; reason: string | null })
        .find((r) => r.rule === "approval" && r.reason?.includes(id));
      expect(decision?.reason).toBe(
        `${id} approved via operator (console:alice): customer called, ok`,
      );
    });

    it("creates a key (shown once) and revokes it: its next request is refused", async () => {
      await page.goto(`${server.url}/console/keys`);
      await page.fill("#k-name", "temp-bot");
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Create key" }).click(),
      ]);
      const key = await page.locator("#created-key").inputValue();
      expect(key).toMatch(/^sg_agent_[A-Za-z0-9_-]{43}$/);
      const id = /key_[0-9a-f]{16}/.exec(
        (await page.locator("#created-h").textContent()) ?? "",
      )?.[0];
      const fresh = await connect(server.url, key);
      agents.push(fresh);
      await screenshot(page, "05-key-created");

      await page.goto(`${server.url}/console/keys`);
      expect(await page.content()).not.toContain(key);
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: `Revoke ${id} (temp-bot)` }).click(),
      ]);
      expect(await page.locator(".notice").textContent()).toContain(`Revoked ${id}`);
      expect(await page.locator(`tr[data-key="${id}"] .status`).textContent()).toContain("revoked");
      const refused = await raw(server.url, "/mcp", {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body: "{}",
      });
      expect(refused.status).toBe(401);
      expect(refused.body.error?.data?.code).toBe("key_revoked");
    });

    it("refuses an agent key at sign-in", async () => {
      const other = await browser.newContext();
      const tab = await other.newPage();
      await signIn(tab, server.url, agentKey.key);
      expect(new URL(tab.url()).pathname).toBe("/console/sign-in");
      expect(await tab.locator("#sign-in-error").textContent()).toContain(
        "agent keys cannot sign in",
      );
      expect((await other.cookies()).some((c) => c.name === "spendguard_operator")).toBe(false);
      expect(await tab.content()).not.toContain(agentKey.key);
      await screenshot(tab, "06-agent-key-refused");
      await other.close();
    });

    it("refuses a state-changing request without the CSRF token, or from another origin", async () => {
      const agent = await open();
      expect(outcome(await call(agent.client, "issue_refund", refund(100))).ok).toBe(true);
      const session = agent.sessionId() ?? "";
      const noToken = await page.request.post(`${server.url}/console/kill`, {
        form: { session, reason: "forged" },
        maxRedirects: 0,
      });
      expect(noToken.status()).toBe(403);
      const wrongToken = await page.request.post(`${server.url}/console/kill`, {
        form: { session, reason: "forged", csrf: "not-the-token" },
        maxRedirects: 0,
      });
      expect(wrongToken.status()).toBe(403);
      const foreign = await page.request.post(`${server.url}/console/kill`, {
        form: { session, reason: "forged" },
        headers: { Origin: "http://evil.example" },
        maxRedirects: 0,
      });
      expect(foreign.status()).toBe(403);
      expect(outcome(await call(agent.client, "issue_refund", refund(100))).ok).toBe(true);
    });

    it("renders agent-chosen text inert, in pages and in the CSV export", async () => {
      const agent = await open();
      await call(agent.client, "lookup_charge", { charge: HOSTILE });
      await call(agent.client, "end_session", { reason: HOSTILE });
      const session = agent.sessionId() ?? "";
      await page.goto(`${server.url}/console/sessions/${session}`);
      expect(await page.locator(".state-line q").textContent()).toBe(HOSTILE);
      await page.goto(`${server.url}/console/audit?session=${session}`);
      expect(await page.locator("table.audit tbody tr").count()).toBeGreaterThan(0);
      for (const path of [`/console/sessions/${session}`, `/console/audit?session=${session}`]) {
        await page.goto(`${server.url}${path}`);
        expect(
          await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
        ).toBeUndefined();
        expect(await page.locator("main img, main script").count()).toBe(0);
      }
      const csv = await page.request.get(
        `${server.url}/console/audit/export.csv?session=${session}`,
      );
      expect(csv.headers()["content-type"]).toContain("text/csv");
      const cells = (await csv.text()).split(/[,\n]/);
      expect(cells.some((c) => /^"?[=+\-@]/.test(c))).toBe(false);
      const json = await page.request.get(
        `${server.url}/console/audit/export.json?session=${session}`,
      );
      const rows = (await json.json()) as { session: string }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.session === session)).toBe(true);
    });

    it("shows spend charts, and fits a phone", async () => {
      await page.goto(`${server.url}/console/spend`);
      expect(await page.locator("canvas.chart").count()).toBe(2);
      expect(await page.locator("main table").first().textContent()).toContain("support-bot");
      await screenshot(page, "07-spend");
      const phone = await browser.newContext({
        viewport: { width: 390, height: 844 },
        storageState: await context.storageState(),
      });
      const tab = await phone.newPage();
      await tab.goto(`${server.url}/console/audit`);
      const width = await tab.evaluate("document.documentElement.scrollWidth");
      expect(width).toBeLessThanOrEqual(390);
      await screenshot(tab, "08-phone-audit");
      await phone.close();
    });

    // Last: kill/ALL refuses every session started after it.
    it("kills an agent, then all, from the overview", async () => {
      const first = await open();
      expect(outcome(await call(first.client, "issue_refund", refund(100))).ok).toBe(true);
      await page.goto(`${server.url}/console`);
      const agentRow = page.locator(".agent-list li", { hasText: "support-bot" });
      await Promise.all([
        page.waitForNavigation(),
        agentRow.getByRole("link", { name: "Kill agent…" }).click(),
      ]);
      await page.fill("#reason", "agent misbehaving");
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Kill it" }).click(),
      ]);
      expect(await page.locator(".notice").textContent()).toMatch(
        /Killed \d+ active session\(s\) of agent support-bot/,
      );
      expect(errorOf(await call(first.client, "issue_refund", refund(100))).code).toBe(
        "session_killed",
      );

      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("link", { name: "Kill all…" }).click(),
      ]);
      await page.fill("#reason", "incident 42");
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Kill all" }).click(),
      ]);
      expect(await page.locator(".notice").textContent()).toContain(
        "sessions started from now on are refused too",
      );
      const later = await open();
      const before = sandbox.requests.length;
      expect(errorOf(await call(later.client, "issue_refund", refund(100))).code).toBe(
        "session_killed",
      );
      expect(sandbox.requests.length).toBe(before);
    });
  });
}
