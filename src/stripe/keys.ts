import { ConfigError } from "../errors.js";

/** What kind of Stripe key spendguard was handed, read from its prefix. */
export interface StripeKeyKind {
  kind: "restricted" | "secret";
  mode: "test" | "live";
}

const KEY_PATTERN = /^(rk|sk)_(test|live)_[A-Za-z0-9_]+$/;

/** Text that stands for a key in docs and templates (mcp.json's `rk_test_replace_with_…`). */
const PLACEHOLDER =
  /^[a-z]{2}_(test|live)_(.*[_-])?(replace|your|placeholder|xxx+)([_-]|$)|…|\.\.\./i;

/** Shows enough of a key to recognise it, never enough to use it (Stripe's own style). */
export function describeKey(key: string): string {
  const prefix = /^[a-z]{2}_(test|live)_/.exec(key)?.[0] ?? "";
  return `${prefix}…${key.slice(-4)}`;
}

export interface KeyRules {
  /** Standard secret keys can do everything; refuse them unless the operator insists. */
  allowSecretKey: boolean;
  /** The policy's `mode`: a live key under a test policy (or the reverse) is refused. */
  mode: "test" | "live";
}

/** Refuses the keys spendguard must not run with, with a message that says what to do instead. */
export function checkStripeKey(key: string | undefined, rules: KeyRules): StripeKeyKind {
  if (!key) {
    throw new ConfigError(
      "STRIPE_API_KEY is not set. Create a restricted key (rk_test_…) with the permissions `spendguard scopes --policy FILE` prints, or run with --sandbox to try spendguard without Stripe.",
    );
  }
  if (PLACEHOLDER.test(key)) {
    throw new ConfigError(
      `STRIPE_API_KEY (${describeKey(key)}) is still a placeholder, as mcp.json ships it, not a key. Put a restricted key there: in the Stripe Dashboard, Developers → API keys → Create restricted key, with the permissions \`spendguard scopes --policy FILE\` prints (rk_test_… for a test-mode policy). To try spendguard without a Stripe account, use the spendguard-sandbox entry (serve --sandbox) instead.`,
    );
  }
  const match = KEY_PATTERN.exec(key);
  if (!match) {
    throw new ConfigError(
      `STRIPE_API_KEY (${describeKey(key)}) is not a Stripe secret or restricted key (rk_test_…, rk_live_…).`,
    );
  }
  const kind: StripeKeyKind = {
    kind: match[1] === "rk" ? "restricted" : "secret",
    mode: match[2] === "live" ? "live" : "test",
  };
  if (kind.kind === "secret" && !rules.allowSecretKey) {
    throw new ConfigError(
      `STRIPE_API_KEY (${describeKey(key)}) is a standard secret key with every permission. Use a restricted key (rk_…) limited to what the policy needs (see \`spendguard scopes\`), or pass --allow-secret-key if you really mean it.`,
    );
  }
  if (kind.mode !== rules.mode) {
    throw new ConfigError(
      `STRIPE_API_KEY (${describeKey(key)}) is a ${kind.mode}-mode key but the policy says mode: ${rules.mode}.`,
    );
  }
  return kind;
}
