import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CallToolResult, Client } from "@modelcontextprotocol/client";
import { TOOLS } from "../../../tools/index.js";
import { formatMoney } from "../../money/currency.js";
import { type LoadedPolicy, loadPolicy } from "../../policy/load.js";
import { DEMO, type Sandbox, startSandbox } from "../../sandbox/index.js";
import { DATABASE_FILE, openSqliteStore } from "../../store/sqlite/store.js";
import { createStripeClient } from "../../stripe/client.js";
import { describeKey } from "../../stripe/keys.js";
import { PACKAGE_ROOT } from "../../version.js";
import { parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { type Style, styleFor, tolerateClosedPipe } from "../format.js";
import { auditCommand } from "./audit.js";
import { describeKill, killFromCli } from "./kill.js";
import { reportCommand } from "./report.js";

const USAGE = `Usage: spendguard demo [--home DIR]

Plays a scripted agent against spendguard, narrating each step: a local Stripe sandbox
with demo data and the real server (\`spendguard serve --policy
policies/support-refunds.yaml\`, spawned over stdio, driven by the MCP SDK's client, as
Claude Desktop or Cursor would). The agent finds a customer, looks up a charge, refunds
part of it, tries another tenant's customer (refused: out of scope), works through a
backlog of refunds until the session cap stops it, repeats its first refund (answered
from the first result: one refund at Stripe, not two); then the operator kills the
session and the agent's next call is refused before anything reaches Stripe. It ends
with \`spendguard report\` and \`spendguard audit verify\` on the data it made.

No Stripe key, no network; a few seconds. Colour only on a terminal (NO_COLOR respected).

Options:
  --home DIR   the data directory to use (default: a new temporary one, printed at the
               end so you can look around with \`spendguard audit\`); it must not hold a
               spendguard database already

Exit code: 0 the story happened as scripted, 1 it did not (the output says where), 2 usage.
`;

/** The story did not happen as scripted. */
class StoryError extends Error {}

type ToolError = { code: string; message: string; hint?: string };
type Outcome =
  | { ok: true; data: Record<string, unknown>; text: string }
  | { ok: false; error: ToolError };

/** One refund the runaway agent sends: whose, which object, how much, why. */
interface RefundRequest {
  who: string;
  charge?: string;
  payment_intent?: string;
  amount: number;
  reason: "duplicate" | "requested_by_customer";
}

/**
 * The backlog the agent works through without checking what is left. Every request is
 * a different refund (an identical one would be answered from the first: step 6), each
 * within the policy's rules (at most half a charge, $100 per call, $200 per customer per
 * day), so what stops the agent is the $250 session cap: at the seventh request only
 * $20.00 is left and it asks for $25.00. The eighth is never sent.
 */
const BACKLOG: readonly RefundRequest[] = [
  { who: "Jane", charge: DEMO.charges.acmeLarge, amount: 5000, reason: "duplicate" },
  {
    who: "John",
    payment_intent: DEMO.paymentIntents.acmeSucceeded,
    amount: 3000,
    reason: "requested_by_customer",
  },
  { who: "Jane", charge: DEMO.charges.acmeLarge, amount: 5000, reason: "requested_by_customer" },
  { who: "Jane", charge: DEMO.charges.acmeSmallA, amount: 2500, reason: "duplicate" },
  {
    who: "John",
    charge: DEMO.charges.acmePartiallyRefunded,
    amount: 2000,
    reason: "requested_by_customer",
  },
  {
    who: "John",
    payment_intent: DEMO.paymentIntents.acmeSucceeded,
    amount: 3000,
    reason: "duplicate",
  },
  { who: "Jane", charge: DEMO.charges.acmeSmallB, amount: 2500, reason: "requested_by_customer" },
  { who: "Jane", charge: DEMO.charges.acmeSmallC, amount: 2500, reason: "requested_by_customer" },
];

const FIRST_REFUND = {
  charge: DEMO.charges.acmeLarge,
  amount: 2500,
  reason: "requested_by_customer",
} as const;

const WIDTH = 96;

export const demoCommand: CliCommand = {
  name: "demo",
  summary: "watch a scripted agent meet the guard, against the local sandbox (no key needed)",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const { values } = parseFlags(argv, { home: { type: "string" } });
    let home: string;
    if (values.home !== undefined) {
      home = resolve(values.home);
      if (existsSync(join(home, DATABASE_FILE))) {
        throw new UsageError(
          `${home} already holds a spendguard database; the demo needs a fresh data directory (its caps would count the earlier run)`,
        );
      }
    } else {
      home = mkdtempSync(join(tmpdir(), "spendguard-demo-"));
    }
    const demo = new Demo(io, home);
    try {
      await demo.play();
      return 0;
    } catch (error) {
      demo.fail(error);
      return 1;
    } finally {
      await demo.close();
    }
  },
};

class Demo {
  private readonly style: Style;
  private readonly started = Date.now();
  private sandbox: Sandbox | undefined;
  private client: Client | undefined;
  private serverLog = "";
  private policy: LoadedPolicy | undefined;

  constructor(
    private readonly io: CliIO,
    private readonly home: string,
  ) {
    this.style = styleFor(io.stdout, io.env);
  }

  async play(): Promise<void> {
    const s = this.style;
    const policyFile = join(PACKAGE_ROOT, "policies", "support-refunds.yaml");
    const policy = loadPolicy(policyFile, TOOLS);
    this.policy = policy;
    this.out(s.bold("spendguard demo — a scripted agent meets the guard"));

    // --- Setting up ------------------------------------------------------------------
    this.out("", s.bold("Setting up"));
    const sandbox = await startSandbox({ port: 0, seed: "demo" });
    this.sandbox = sandbox;
    const key = sandbox.keys.roles["support-refunds"];
    this.bullet(`A local Stripe sandbox with demo data (tenants acme and globex): ${sandbox.url}`);
    const main = fileURLToPath(new URL("../main.js", import.meta.url));
    // Loaded here, not with the CLI: no other command needs the MCP client.
    const [{ Client }, { StdioClientTransport }] = await Promise.all([
      import("@modelcontextprotocol/client"),
      import("@modelcontextprotocol/client/stdio"),
    ]);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [main, "serve", "--policy", policyFile],
      env: {
        PATH: this.io.env.PATH ?? "",
        STRIPE_API_KEY: key,
        SPENDGUARD_HOME: this.home,
        SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
        SPENDGUARD_LOG_LEVEL: "warn",
      },
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => {
      this.serverLog += chunk.toString();
    });
    const client = new Client({ name: "spendguard-demo-agent", version: "1.0.0" });
    this.client = client;
    await client.connect(transport);
    this.bullet(
      `spendguard serve --policy policies/support-refunds.yaml, as an MCP server over stdio, with the sandbox's restricted key ${describeKey(key)} (the agent never sees it)`,
    );
    this.bullet(`The policy (support-refunds): ${policySummary(policy)}`);
    const { tools } = await client.listTools();
    this.bullet(
      `The agent is offered ${tools.length} tools: ${tools.map((t) => t.name).join(", ")}`,
    );
    const status = await this.call("session_status", {}, { quiet: true });
    if (!status.ok) throw new StoryError(`session_status failed: ${status.error.message}`);
    const sessionId = String(status.data.session_id);
    this.bullet(`Its session: ${sessionId}`);

    // --- 1. Find a customer ----------------------------------------------------------
    this.step(1, "The agent finds the customer who wrote in");
    const found = await this.call("find_customer", { email: "jane.doe@acme.example" });
    const customers = this.expectOk(found, "find_customer").customers as {
      id: string;
      email: string | null;
    }[];
    const jane = customers.find((c) => c.id === DEMO.customers.acmeJane);
    if (!jane) throw new StoryError("find_customer did not return Jane Doe (cus_SgAcmeJaneDoe)");
    this.good(`${jane.id}; her email comes back masked: ${jane.email ?? "(none)"}`);

    // --- 2. Look up a charge ---------------------------------------------------------
    this.step(2, "It looks up her charge");
    const charge = this.expectOk(
      await this.call("lookup_charge", { charge: DEMO.charges.acmeLarge }),
      "lookup_charge",
    ) as { amount: { display: string }; status: string; refundable: { display: string } };
    this.good(
      `${charge.amount.display}, ${charge.status}, ${charge.refundable.display} still refundable`,
    );

    // --- 3. Refund part of it --------------------------------------------------------
    this.step(3, "It refunds part of it");
    const first = this.expectOk(await this.call("issue_refund", FIRST_REFUND), "issue_refund");
    const firstId = String(first.id);
    this.good(
      `refunded ${formatMoney(FIRST_REFUND.amount, "usd")} (${firstId}); ${this.left(first)} left of the session cap`,
    );

    // --- 4. Another tenant's customer ------------------------------------------------
    this.step(4, "It tries to refund a charge of another tenant's customer (globex)");
    const globex = await this.call("issue_refund", {
      charge: DEMO.charges.globexEur,
      amount: 1000,
      reason: "requested_by_customer",
    });
    this.expectRefused(globex, "customer_out_of_scope");

    // --- 5. Refund loop until the session cap ----------------------------------------
    this.step(5, "It works through a backlog of refunds, never checking what is left");
    const before = this.requestCount("POST", "/v1/refunds");
    let stopped: ToolError | undefined;
    let sent = 0;
    for (const request of BACKLOG) {
      const { who, ...args } = request;
      const outcome = await this.call("issue_refund", args, { quiet: true });
      sent++;
      const what = `${formatMoney(request.amount, "usd").padStart(6)}  ${who.padEnd(4)}  ${(request.charge ?? request.payment_intent ?? "").padEnd(22)}  ${request.reason.padEnd(21)}`;
      if (outcome.ok) {
        this.line(`${s.green("✓")} ${what}  ${this.left(outcome.data)} left`);
        continue;
      }
      this.line(`${s.red("✗")} ${what}  ${s.bold(`refused: ${outcome.error.code}`)}`);
      this.wrapped(`“${outcome.error.message}”`, "      ");
      stopped = outcome.error;
      break;
    }
    if (!stopped) throw new StoryError("the backlog ran out and no cap stopped the agent");
    if (stopped.code !== "cap_session") {
      throw new StoryError(
        `expected the session cap (cap_session) to stop it, got ${stopped.code}`,
      );
    }
    const refundsSent = this.requestCount("POST", "/v1/refunds") - before;
    this.note(
      `${sent - 1} refunds went through (${refundsSent} refund requests reached Stripe); the session cap refused the ${ordinal(sent)} before it left; ${BACKLOG.length - sent} more never sent.`,
    );

    // --- 6. Repeat the first refund ----------------------------------------------------
    this.step(6, "It repeats its very first refund, word for word");
    const again = this.expectOk(await this.call("issue_refund", FIRST_REFUND), "issue_refund");
    const block = again.spendguard as { replayed?: boolean } | undefined;
    if (String(again.id) !== firstId || block?.replayed !== true) {
      throw new StoryError(
        `the repeat should return the first refund ${firstId} marked replayed, got ${String(again.id)}`,
      );
    }
    const admin = createStripeClient({ apiKey: sandbox.keys.admin, baseUrl: sandbox.url });
    const listed = await admin.refunds.list({ charge: DEMO.charges.acmeLarge, limit: 100 });
    const same = listed.data.filter((r) => r.amount === FIRST_REFUND.amount);
    if (same.length !== 1) {
      throw new StoryError(
        `Stripe should hold one $25.00 refund on the charge, holds ${same.length}`,
      );
    }
    this.good(
      `replayed: the same refund ${firstId} came back, nothing was refunded twice (Stripe holds exactly one $25.00 refund on ${DEMO.charges.acmeLarge})`,
    );

    // --- 7. Operator kill ----------------------------------------------------------------
    this.step(7, "The operator stops the session from a terminal");
    const reason = "demo: refund backlog under review";
    this.line(s.cyan(`$ spendguard kill ${sessionId} --reason "${reason}"`));
    const store = openSqliteStore(this.home);
    try {
      const outcome = await killFromCli(store, this.home, { session: sessionId }, reason);
      if (outcome.killed.length !== 1) throw new StoryError(`the kill did not take: ${sessionId}`);
      for (const text of describeKill({ session: sessionId }, outcome, this.home, reason)
        .trimEnd()
        .split("\n")) {
        this.line(s.dim(text));
      }
    } finally {
      await store.close();
    }

    // --- 8. The next call --------------------------------------------------------------
    this.step(8, "The agent's next call");
    const requestsAtKill = sandbox.requests.length;
    const next = await this.call("issue_refund", {
      charge: DEMO.charges.acmeSmallC,
      amount: 1000,
      reason: "requested_by_customer",
    });
    this.expectRefused(next, "session_killed");
    const afterKill = sandbox.requests.length - requestsAtKill;
    if (afterKill !== 0) {
      throw new StoryError(`${afterKill} request(s) reached the sandbox after the kill`);
    }
    this.note("Requests that reached Stripe after the kill: 0.");
    await client.close();
    this.client = undefined;

    // --- 9. What the operator sees -------------------------------------------------------
    this.step(9, "What the operator sees afterwards");
    this.line(s.cyan("$ spendguard report --by tool"));
    await this.nested(reportCommand.run(["--home", this.home, "--by", "tool"], this.nestedIo()));
    this.line(s.cyan("$ spendguard audit verify"));
    const verified = await this.nested(
      auditCommand.run(["verify", "--home", this.home], this.nestedIo()),
    );
    if (verified !== 0) throw new StoryError("audit verify did not pass");

    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.out(
      "",
      s.bold(`The story happened as scripted, in ${seconds} s.`),
      `Everything it did is in ${this.home}. Look around:`,
      `  SPENDGUARD_HOME=${this.home} spendguard audit`,
      `  SPENDGUARD_HOME=${this.home} spendguard sessions`,
      `  SPENDGUARD_HOME=${this.home} spendguard report --by customer`,
      "Or in the operator console (sessions, caps, the audit, kill, approvals, keys):",
      `  SPENDGUARD_HOME=${this.home} spendguard keys create --operator --name you`,
      `  SPENDGUARD_HOME=${this.home} spendguard console`,
      "  then open http://127.0.0.1:3100/console and sign in with the sg_op_… key it printed.",
      "(`spendguard` is on your PATH once `npm link` has run in the checkout.)",
      "",
    );
  }

  fail(error: unknown): void {
    const s = this.style;
    const message = error instanceof Error ? error.message : String(error);
    this.out(
      "",
      s.red(
        error instanceof StoryError
          ? `✗ The story did not go as scripted: ${message}`
          : `✗ The demo stopped: ${message}`,
      ),
    );
    const log = this.serverLog.trim();
    if (log) {
      this.io.stderr.write(
        `\nThe server's log (stderr), last lines:\n${log.split("\n").slice(-20).join("\n")}\n`,
      );
    }
    this.io.stderr.write(`Data directory: ${this.home}\n`);
  }

  async close(): Promise<void> {
    await this.client?.close().catch(() => {});
    await this.sandbox?.close();
  }

  // ---------------------------------------------------------------------------------------

  private async call(
    name: string,
    args: Record<string, unknown>,
    { quiet = false }: { quiet?: boolean } = {},
  ): Promise<Outcome> {
    if (!this.client) throw new Error("not connected");
    if (!quiet) this.line(`${this.style.cyan("agent →")} ${name} ${JSON.stringify(args)}`);
    const result = (await this.client.callTool({ name, arguments: args })) as CallToolResult;
    if (!result.isError) {
      const first = result.content[0];
      return {
        ok: true,
        data: (result.structuredContent ?? {}) as Record<string, unknown>,
        text: first?.type === "text" ? first.text : "",
      };
    }
    const first = result.content[0];
    try {
      const parsed = JSON.parse(first?.type === "text" ? first.text : "") as { error: ToolError };
      return { ok: false, error: parsed.error };
    } catch {
      throw new StoryError(`${name} returned an error that is not spendguard's JSON`);
    }
  }

  private expectOk(outcome: Outcome, name: string): Record<string, unknown> {
    if (!outcome.ok) {
      throw new StoryError(`${name} was refused (${outcome.error.code}): ${outcome.error.message}`);
    }
    return outcome.data;
  }

  private expectRefused(outcome: Outcome, code: string): void {
    if (outcome.ok)
      throw new StoryError(`expected a refusal with ${code}, but the call went through`);
    if (outcome.error.code !== code) {
      throw new StoryError(`expected ${code}, got ${outcome.error.code}: ${outcome.error.message}`);
    }
    this.line(`${this.style.red("✗")} refused: ${this.style.bold(code)}`);
    this.wrapped(`“${outcome.error.message}”`, "     ");
  }

  /** What the `spendguard` block of a write result says is left of the session cap. */
  private left(data: Record<string, unknown>): string {
    const block = data.spendguard as { session_left?: number | null } | undefined;
    const left = block?.session_left;
    const currency = this.policy?.caps.currency ?? "usd";
    return typeof left === "number" ? formatMoney(left, currency) : "?";
  }

  private requestCount(method: string, path: string): number {
    return (this.sandbox?.requests ?? []).filter((r) => r.method === method && r.path === path)
      .length;
  }

  /** A command's output, indented under the demo's own lines. */
  private nestedIo(): CliIO {
    this.nestedText = "";
    const sink = {
      isTTY: (this.io.stdout as { isTTY?: boolean }).isTTY,
      write: (chunk: string | Uint8Array) => {
        this.nestedText += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { stdout: sink, stderr: this.io.stderr, env: this.io.env };
  }

  private nestedText = "";

  private async nested(run: Promise<number>): Promise<number> {
    const code = await run;
    for (const text of this.nestedText.trimEnd().split("\n")) this.line(text);
    this.out("");
    return code;
  }

  private out(...lines: string[]): void {
    this.io.stdout.write(`${lines.join("\n")}\n`);
  }

  private step(n: number, title: string): void {
    this.out("", this.style.bold(`${n}. ${title}`));
  }

  private line(text: string): void {
    this.out(text ? `   ${text}` : "");
  }

  private bullet(text: string): void {
    this.wrapped(`• ${text}`, "     ", "   ");
  }

  private good(text: string): void {
    this.wrapped(`${this.style.green("✓")} ${text}`, "     ", "   ");
  }

  private note(text: string): void {
    this.wrapped(text, "   ", "   ", this.style.dim);
  }

  private wrapped(
    text: string,
    indent: string,
    firstIndent = indent,
    paint: (t: string) => string = (t) => t,
  ): void {
    const words = text.split(" ");
    const lines: string[] = [];
    let current = "";
    for (const word of words) {
      const limit = WIDTH - (lines.length === 0 ? firstIndent.length : indent.length);
      if (current && current.length + 1 + word.length > limit) {
        lines.push(current);
        current = word;
      } else {
        current = current ? `${current} ${word}` : word;
      }
    }
    if (current) lines.push(current);
    this.out(...lines.map((l, i) => `${i === 0 ? firstIndent : indent}${paint(l)}`));
  }
}

function policySummary(policy: LoadedPolicy): string {
  const money = (amount: number | null) =>
    amount === null ? "no cap" : formatMoney(amount, policy.caps.currency);
  const scope = policy.policy.customers;
  const tenant =
    scope !== "all" && scope.metadata
      ? Object.entries(scope.metadata)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")
      : "any";
  const refund = policy.policy.tools.issue_refund?.params ?? {};
  const reasons = refund.reason?.in?.join(" or ") ?? "any reason";
  const fraction = refund.refund_fraction?.max;
  return [
    `refunds up to ${money(policy.caps.perCall)} per call`,
    `${money(policy.caps.perSession)} per session`,
    `${money(policy.caps.perCustomerPerDay)} per customer per day`,
    `${money(policy.caps.perDay)} per day`,
    ...(fraction !== undefined ? [`at most ${fraction * 100}% of a charge`] : []),
    `reason ${reasons}`,
    `only customers with ${tenant}`,
  ].join(", ");
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n !== 11
      ? "st"
      : n % 10 === 2 && n !== 12
        ? "nd"
        : n % 10 === 3 && n !== 13
          ? "rd"
          : "th";
  return `${n}${suffix}`;
}
