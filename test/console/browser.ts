import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT } from "../e2e/harness.js";

/**
 * Debian's Chromium (`apt-get install chromium`) driven by playwright-core: no browser
 * download. Without it the browser tests skip and say why, unless
 * SPENDGUARD_REQUIRE_CHROMIUM=1 (as CI sets it), which makes its absence a failure.
 */

export const CHROMIUM = process.env.SPENDGUARD_CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const REQUIRE_CHROMIUM = process.env.SPENDGUARD_REQUIRE_CHROMIUM === "1";
export const NO_CHROMIUM = `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set SPENDGUARD_CHROMIUM)`;

/** Screenshots are kept here as test artifacts. */
export const ARTIFACTS = join(ROOT, "test-artifacts", "console");

export async function launch(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
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
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Opens the console at `base`, is sent to sign-in, and signs in with `key`. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/console`);
  const at = new URL(page.url()).pathname;
  if (at !== "/console/sign-in") throw new Error(`expected the sign-in page, got ${at}`);
  await page.fill("#key", key);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
}
