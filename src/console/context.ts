import type { Logger } from "../logger.js";
import type { PolicyIndex } from "../operator/known-policies.js";
import type { Store } from "../store/store.js";
import type { OperatorSignIn, SignedIn } from "./sign-in.js";

/** What every console view and action is given. */
export interface ConsoleContext {
  store: Store;
  /** The data directory: kill flag files are written under it. */
  home: string;
  logger: Logger;
  policies: PolicyIndex;
  signIn: OperatorSignIn;
  now(): number;
}

/** The decider and killer the console records: `console:<operator name>`. */
export function actor(signedIn: SignedIn): string {
  return `console:${signedIn.operator}`;
}
