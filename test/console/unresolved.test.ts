import type { Browser, BrowserContext, Page } from "playwright-core";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type FaultRule, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { connectStdio, errorOf } from "../e2e/harness.js";
import {
  type Connected,
  call,
  connect,
  createKey,
  type HttpServer,
  policyFile,
  runCli,
  startHttpServer,
  tempHome,
} from "../http/harness.js";
import { adminClient, readBooks, refundsOn } from "../reliability/harness.js";
import {
  HAVE_CHROMIUM,
  launch,
  NO_CHROMIUM,
  REQUIRE_CHROMIUM,
  screenshot,
  signIn,
} from "./browser.js";

/**
 * The console's page of writes whose outcome is not known, in a real browser (Debian's
 * Chromium) on a real `serve --http` against the sandbox. The unknown outcomes are made
 * for real: the sandbox resets every attempt of the agent's request, so spendguard cannot
 * tell whether Stripe applied it. The ledger, the audit and Stripe itself are the proof
 * that a ruling made on the page did what it says.
 */

const CHARGE = DEMO.charges.acmeLarge;
const CUSTOMER = DEMO.customers.acmeJane;
const HOSTILE = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">\u202eevil`;

/** Every attempt (the first and the SDK's retries) cut: the answer never comes back. */
function lost(path: string, afterApply = false): FaultRule {
  return { method: "POST", path, kind: "reset", times: 3, ...(afterApply ? { afterApply } : {}) };
}

if (!HAVE_CHROMIUM && REQUIRE_CHROMIUM) {
  describe("unresolved writes in Chromium", () => {
    it("needs Chromium (SPENDGUARD_REQUIRE_CHROMIUM=1)", () => {
      throw new Error(NO_CHROMIUM);
    });
  });
} else if (!HAVE_CHROMIUM) {
  describe.skip(`unresolved writes in Chromium (skipped: ${NO_CHROMIUM})`, () => {
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
  let agent: Connected;
  let lostRefund = "";

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, seed: "demo" });
    admin = adminClient(sandbox);
    home = tempHome();
    const policy = policyFile(home.dir, "support-refunds");
    const [operatorKey, agentKey] = await Promise.all([
      createKey(home.dir, ["--operator", "--name", "alice"]),
      createKey(home.dir, ["--agent", "support-bot", "--policy", policy]),
    ]);
    server = await startHttpServer({
      home: home.dir,
      env: {
        STRIPE_API_KEY: sandbox.keys.roles["support-refunds"],
        SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      },
    });
    agent = await connect(server.url, agentKey.key);
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    await signIn(page, server.url, operatorKey.key);
  });

  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await sandbox?.close();
    home?.cleanup();
  });

  const open = () => runCli(["admissions", "--json", "--home", home.dir]);
  const openIds = async () =>
    (JSON.parse((await open()).stdout) as { id: string }[]).map((a) => a.id);
  const admission = async (id: string) =>
    (await readBooks(home.dir)).admissions.find((a) => a.id === id);
  const csrf = () => page.locator("input[name=csrf]").first().inputValue();

  describe("unresolved writes in Chromium", () => {
    it("says what to do while every write's outcome is known", async () => {
      await page.goto(`${server.url}/console/unresolved`);
      expect(await page.locator("main h2").first().textContent()).toBe("Nothing to rule on");
      expect(await page.locator("main").textContent()).toContain("spendguard admissions");
      expect(await page.locator("nav .badge").count()).toBe(0);
    });

    it("shows a refund whose answer was lost appear, live, with what it counts against the caps", async () => {
      sandbox.faults.add(lost("/v1/refunds"));
      const refund = { charge: CHARGE, amount: 2_000, reason: "requested_by_customer" };
      expect(errorOf(await call(agent.client, "issue_refund", refund)).code).toBe(
        "outcome_unknown",
      );
      // The page opened before it happened shows it, without a reload.
      const card = page.locator("article.admission");
      await card.waitFor({ timeout: 10_000 });
      lostRefund = (await card.getAttribute("data-admission")) ?? "";
      expect(lostRefund).toMatch(/^adm_\d+$/);
      const text = (await card.textContent()) ?? "";
      expect(text).toContain(`issue_refund of $20.00 for ${CUSTOMER}`);
      expect(text).toContain("support-bot");
      expect(text).toContain("Stripe's answer was lost");
      expect(await card.locator("[data-counted]").textContent()).toBe("$20.00");
      expect(await card.locator("[data-key-alive]").getAttribute("data-key-alive")).toBe("true");
      expect(await card.locator("pre").textContent()).toContain(`"charge":"${CHARGE}"`);
      expect(await openIds()).toEqual([lostRefund]);

      await page.reload();
      expect(await page.locator("nav .badge").textContent()).toBe("1");
      await screenshot(page, "09-unresolved");
      await page.goto(`${server.url}/console`);
      expect(await page.locator(".notice.warn").textContent()).toContain(
        "1 write(s) with an unknown outcome",
      );
    });

    it("refuses a ruling without the CSRF token, and one without a choice or a reason", async () => {
      const path = `${server.url}/console/unresolved/${lostRefund}`;
      const forged = { ruling: "not_applied", reason: "forged" };
      for (const form of [forged, { ...forged, csrf: "not-the-token" }]) {
        const refused = await page.request.post(path, { form, maxRedirects: 0 });
        expect(refused.status()).toBe(403);
      }
      await page.goto(path);
      const token = await csrf();
      const bad: Record<string, string>[] = [
        { csrf: token, reason: "no choice made" },
        { csrf: token, ruling: "not_applied", reason: "   " },
        { csrf: token, ruling: "maybe", reason: "not a choice" },
      ];
      for (const form of bad) {
        const refused = await page.request.post(path, { form, maxRedirects: 0 });
        expect(refused.status()).toBe(400);
      }
      expect(await openIds()).toEqual([lostRefund]);
      expect((await admission(lostRefund))?.state).toBe("unknown");
    });

    it("rules it not applied, with a reason: released, and the audit names console:alice", async () => {
      await page.goto(`${server.url}/console/unresolved`);
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("link", { name: `Resolve ${lostRefund}` }).click(),
      ]);
      expect(new URL(page.url()).pathname).toBe(`/console/unresolved/${lostRefund}`);
      // The ruling is a deliberate choice: nothing is chosen for the operator.
      expect(await page.locator("input[name=ruling]:checked").count()).toBe(0);
      await page.getByLabel("It did not apply").check();
      await page.fill("#reason", "no refund with this admission id in the Dashboard");
      await screenshot(page, "10-resolve");
      await Promise.all([
        page.waitForNavigation(),
        page.getByRole("button", { name: "Record ruling" }).click(),
      ]);
      expect(new URL(page.url()).pathname).toBe("/console/unresolved");
      expect(await page.locator(".notice").textContent()).toBe(
        `Resolved ${lostRefund} as not applied: issue_refund $20.00 no longer counts against the caps.`,
      );
      expect(await page.locator("main h2").first().textContent()).toBe("Nothing to rule on");
      expect(await page.locator("nav .badge").count()).toBe(0);

      const books = await readBooks(home.dir);
      expect(books.admissions.find((a) => a.id === lostRefund)?.state).toBe("released");
      expect(books.audit.at(-1)).toMatchObject({
        tool: "issue_refund",
        rule: "operator",
        outcome: "reconciled",
        amount: 2_000,
        currency: "usd",
        reason:
          "console:alice ruled it not applied: no refund with this admission id in the Dashboard",
      });
      expect(books.chain.ok).toBe(true);
      expect(await openIds()).toEqual([]);
      expect(await refundsOn(admin, CHARGE)).toEqual([]);
      // Ruled on once: the same form again records nothing.
      const again = await page.request.post(`${server.url}/console/unresolved/${lostRefund}`, {
        form: { csrf: await csrf(), ruling: "applied", reason: "second thoughts" },
        maxRedirects: 0,
      });
      expect(again.status()).toBe(303);
      expect((await readBooks(home.dir)).audit).toHaveLength(books.audit.length);
      expect((await admission(lostRefund))?.state).toBe("released");
    });

    it("rules a refund that did reach Stripe applied: settled at what it reserved", async () => {
      sandbox.faults.add(lost("/v1/refunds", true));
      const refund = { charge: CHARGE, amount: 1_500, reason: "requested_by_customer" };
      expect(errorOf(await call(agent.client, "issue_refund", refund)).code).toBe(
        "outcome_unknown",
      );
      const [id] = await openIds();
      const inStripe = await refundsOn(admin, CHARGE);
      expect(inStripe.map((r) => [r.amount, r.metadata?.spendguard_admission])).toEqual([
        [1_500, id],
      ]);
      // By keyboard alone: choose, Tab to the reason, Tab to the button, Enter.
      await page.goto(`${server.url}/console/unresolved/${id}`);
      await page.getByLabel("It applied").focus();
      await page.keyboard.press("Space");
      await page.keyboard.press("Tab");
      await page.keyboard.type(`refund ${inStripe[0]?.id} is in the Dashboard`);
      await page.keyboard.press("Tab");
      expect(await page.evaluate("document.activeElement.textContent")).toBe("Record ruling");
      await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
      expect(await page.locator(".notice").textContent()).toBe(
        `Resolved ${id} as applied: issue_refund $15.00 stays counted as money moved.`,
      );
      expect(await admission(id ?? "")).toMatchObject({ state: "settled", amount_cap: 1_500 });
      expect((await readBooks(home.dir)).audit.at(-1)?.reason).toBe(
        `console:alice ruled it applied: refund ${inStripe[0]?.id} is in the Dashboard`,
      );
    });

    it("renders agent-chosen text inert, from an agent on stdio too, and fits a phone", async () => {
      sandbox.faults.add(lost("/v1/disputes/*"));
      const disputes = await connectStdio({
        policy: policyFile(home.dir, "dispute-handler"),
        home: home.dir,
        sandbox,
        key: sandbox.keys.roles["dispute-handler"],
      });
      const evidence = {
        dispute: DEMO.disputes.acmeNeedsResponse,
        evidence: { uncategorized_text: HOSTILE },
        submit: false,
      };
      const lostEvidence = await call(disputes.client, "submit_dispute_evidence", evidence);
      await disputes.close();
      expect(errorOf(lostEvidence).code).toBe("outcome_unknown");
      const [id] = await openIds();

      for (const path of ["/console/unresolved", `/console/unresolved/${id}`]) {
        await page.goto(`${server.url}${path}`);
        const card = page.locator("main");
        expect(await card.textContent()).toContain("submit_dispute_evidence");
        const args = (await card.locator("pre").textContent()) ?? "";
        expect(args).toContain("<script>window.__pwned=1</script>");
        // A right-to-left override is shown as an escape, not obeyed.
        expect(args).toContain("\\u202eevil");
        expect(
          await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
        ).toBeUndefined();
        expect(await page.locator("main img, main script").count()).toBe(0);
      }
      expect(await page.locator("[data-counted]").textContent()).toBe(
        "nothing (it moves no money)",
      );

      const phone = await browser.newContext({
        viewport: { width: 390, height: 844 },
        storageState: await context.storageState(),
      });
      const tab = await phone.newPage();
      await tab.goto(`${server.url}/console/unresolved`);
      await tab.locator("article.admission details summary").click();
      expect(await tab.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await screenshot(tab, "11-phone-unresolved");
      await phone.close();
    });
  });
}
