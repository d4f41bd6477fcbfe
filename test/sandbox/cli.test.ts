import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import Stripe from "stripe";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/command.js";
import { runSandbox, runSandboxReset, sandboxCommand } from "../../src/cli/commands/sandbox.js";
import { noteSandboxSessions } from "../../src/cli/sandbox-home.js";
import { ADMIN_KEY, DEMO } from "../../src/sandbox/index.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), "sg-sandbox-home-"));
  homes.push(home);
  return home;
}

/** A fresh data directory per run, so no test touches ~/.spendguard or another's state. */
function capture(home = newHome()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk) => {
    out += chunk;
  });
  stderr.on("data", (chunk) => {
    err += chunk;
  });
  return {
    io: { stdout, stderr, env: { SPENDGUARD_HOME: home } },
    home,
    out: () => out,
    err: () => err,
  };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error("timed out waiting");
}

async function keysFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sg-sandbox-"));
  const file = join(dir, "keys.json");
  await writeFile(file, content);
  return file;
}

const urlOf = (text: string) => /listening on (http:\/\/\S+)/.exec(text)?.[1];

describe("spendguard sandbox", () => {
  it("prints its URL and every key with its permissions, serves until stopped, then exits 0", async () => {
    const file = await keysFile(
      JSON.stringify([{ key: "rk_test_extra_reader", permissions: { charges: "read" } }]),
    );
    const { io, out, err } = capture();
    const stop = new AbortController();
    const done = runSandbox(["--port", "0", "--seed", "demo", "--keys", file], io, stop.signal);
    await waitFor(() => urlOf(out()) !== undefined);
    const url = new URL(urlOf(out()) as string);
    expect(out()).toContain("sk_test_sg_sandbox_admin");
    expect(out()).toMatch(
      /support-refunds\s+rk_test_sg_support_refunds\s+charges:read refunds:write customers:read payment_intents:read/,
    );
    expect(out()).toMatch(/\(keys file\)\s+rk_test_extra_reader\s+charges:read/);

    const reader = new Stripe("rk_test_extra_reader", {
      host: url.hostname,
      port: Number(url.port),
      protocol: "http",
      maxNetworkRetries: 0,
    });
    expect((await reader.charges.retrieve(DEMO.charges.acmeLarge)).amount).toBe(50_000);
    await expect(reader.refunds.list()).rejects.toBeInstanceOf(Stripe.errors.StripePermissionError);

    stop.abort();
    expect(await done).toBe(0);
    expect(err()).toContain("stopped");
    await expect(fetch(`${url.origin}/v1/balance`)).rejects.toThrow();
  });

  it("stops on SIGTERM", async () => {
    const { io, out } = capture();
    const done = sandboxCommand.run(["--port", "0", "--seed", "empty"], io);
    await waitFor(() => urlOf(out()) !== undefined);
    expect(process.listenerCount("SIGTERM")).toBe(1);
    process.emit("SIGTERM");
    expect(await done).toBe(0);
    expect(process.listenerCount("SIGTERM")).toBe(0);
  });

  it.each([
    [["--bogus"], /bogus/],
    [["--port", "http"], /--port/],
    [["--port", "70000"], /--port/],
    [["--seed", "full"], /--seed must be demo or empty/],
    [["extra"], /extra/],
  ])("refuses %j as a usage error", async (argv, message) => {
    const { io } = capture();
    const error = await sandboxCommand.run(argv, io).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });

  it.each([
    ["not JSON", "{", /is not JSON/],
    ["a bad key", JSON.stringify([{ key: "pk_test_x" }]), /\[0\]\.key: must be a test-mode key/],
    [
      "an unknown permission",
      JSON.stringify([{ key: "rk_test_a", permissions: { charge: "read" } }]),
      /\[0\]\.permissions: Unrecognized key: "charge"/,
    ],
    [
      "a bad access level",
      JSON.stringify([{ key: "rk_test_a", permissions: { charges: "admin" } }]),
      /\[0\]\.permissions\.charges: Invalid option/,
    ],
  ])(
    "exits 2 naming the file and the field for a keys file that is %s",
    async (_what, content, message) => {
      const file = await keysFile(content);
      const { io, err } = capture();
      const stop = new AbortController();
      expect(await runSandbox(["--port", "0", "--keys", file], io, stop.signal)).toBe(2);
      expect(err()).toContain(file);
      expect(err()).toMatch(message);
    },
  );

  it("exits 2 when the keys file does not exist", async () => {
    const { io, err } = capture();
    const missing = join(tmpdir(), "sg-no-such-keys.json");
    expect(await runSandbox(["--keys", missing], io, new AbortController().signal)).toBe(2);
    expect(err()).toContain(missing);
  });

  it("exits 1 when the port is taken", async () => {
    const first = capture();
    const stop = new AbortController();
    const running = runSandbox(["--port", "0"], first.io, stop.signal);
    await waitFor(() => urlOf(first.out()) !== undefined);
    const port = new URL(urlOf(first.out()) as string).port;
    const second = capture();
    expect(await runSandbox(["--port", port], second.io, new AbortController().signal)).toBe(1);
    expect(second.err()).toContain("cannot listen");
    stop.abort();
    expect(await running).toBe(0);
  });
});

/** Runs the sandbox command until `body` is done with its URL, then stops it. */
async function whileRunning(
  argv: string[],
  run: ReturnType<typeof capture>,
  body: (stripe: Stripe) => Promise<void> = async () => {},
): Promise<number> {
  const stop = new AbortController();
  const done = runSandbox(["--port", "0", ...argv], run.io, stop.signal);
  await Promise.race([done, waitFor(() => urlOf(run.out()) !== undefined)]);
  const url = urlOf(run.out());
  if (url !== undefined) {
    const { hostname, port } = new URL(url);
    await body(new Stripe(ADMIN_KEY, { host: hostname, port: Number(port), protocol: "http" }));
  }
  stop.abort();
  return done;
}

describe("spendguard sandbox: where the state lives", () => {
  it("keeps it in the data directory by default, says so, and restores it at the next start", async () => {
    const first = capture();
    const file = join(first.home, "sandbox.json");
    let refund = "";
    const code = await whileRunning([], first, async (stripe) => {
      refund = (await stripe.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 300 })).id;
    });
    expect(code).toBe(0);
    expect(first.out()).toContain(
      `State: ${file}, new from the demo seed (kept across restarts; \`spendguard sandbox reset --home ${first.home}\` starts over, with the ledger)`,
    );

    const second = capture(first.home);
    await whileRunning(["--seed", "empty"], second, async (stripe) => {
      expect((await stripe.refunds.retrieve(refund)).amount).toBe(300);
    });
    expect(second.out()).toContain(`State: ${file}, restored (kept across restarts;`);
    expect(second.out()).toContain("--seed empty does not apply to it)");
  });

  it("--state FILE keeps it there; --in-memory keeps none", async () => {
    const run = capture();
    const file = join(run.home, "elsewhere", "state.json");
    await whileRunning(["--state", file], run);
    expect(run.out()).toContain(
      `State: ${file}, new from the demo seed (kept across restarts; delete the file to start over)`,
    );
    expect(existsSync(join(run.home, "sandbox.json"))).toBe(false);

    const memory = capture();
    await whileRunning(["--in-memory", "--seed", "empty"], memory);
    expect(memory.out()).toContain("State: in memory, from the empty seed (gone when it stops)");
    expect(readdirSync(memory.home)).toEqual([]);
  });

  it("refuses --state, --in-memory and --home together as a usage error", async () => {
    const error = await runSandbox(
      ["--in-memory", "--home", "/tmp/x"],
      capture().io,
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      "give one of --state, --in-memory and --home, not --in-memory and --home",
    );
  });

  it("exits 1 on a state file it cannot use, naming it and the way out", async () => {
    const run = capture();
    writeFileSync(join(run.home, "sandbox.json"), "{ not json");
    expect(await whileRunning([], run)).toBe(1);
    expect(run.err()).toContain(
      `the sandbox state ${join(run.home, "sandbox.json")} is not valid JSON`,
    );
    expect(run.err()).toContain(
      `Or start over, the ledger with it: spendguard sandbox reset --home ${run.home}`,
    );
    expect(run.err()).not.toMatch(/\n\s+at /);
  });
});

/** A ledger session as `serve` writes it, noted as the sandbox's or not. */
async function ledgerWithSession(home: string, id: string, sandbox: boolean): Promise<void> {
  const store = openSqliteStore(home);
  if (sandbox) noteSandboxSessions(store, home);
  await store.createSession({
    id,
    agent: "support-refunds",
    policy_name: "support-refunds",
    policy_hash: "h",
    started_at: Date.UTC(2031, 0, 1),
    expires_at: null,
    state: "ended",
    state_changed_at: null,
    killed_by: null,
    kill_reason: null,
  });
  await store.close();
}

describe("spendguard sandbox reset", () => {
  const reset = (run: ReturnType<typeof capture>, argv: string[], answer?: boolean) =>
    runSandboxReset(
      ["--home", run.home, ...argv],
      run.io,
      answer === undefined ? undefined : async () => answer,
    );

  it("deletes the sandbox state and the ledger together once confirmed", async () => {
    const run = capture();
    await whileRunning([], capture(run.home));
    await ledgerWithSession(run.home, "ses_sandbox1", true);

    expect(await reset(run, [], false)).toBe(1);
    expect(run.out()).toMatch(
      /This deletes, in .+:\n {2}.+sandbox\.json: the sandbox's Stripe data \(seed demo\), 7 customer\(s\), 15 charge\(s\), 2 refund\(s\)\n {2}.+spendguard\.db: the ledger, 1 session\(s\), 0 audit row\(s\), 0 key\(s\)\n/,
    );
    expect(run.err()).toBe("Nothing was deleted.\n");
    expect(existsSync(join(run.home, "sandbox.json"))).toBe(true);
    expect(existsSync(join(run.home, "spendguard.db"))).toBe(true);

    expect(await reset(run, [], true)).toBe(0);
    expect(run.out()).toContain(
      `Reset ${run.home}: the sandbox's Stripe data and the ledger are gone together`,
    );
    expect(readdirSync(run.home)).toEqual([]);
    expect(await reset(capture(run.home), ["--yes"])).toBe(0);
  });

  it("without a terminal to ask on, resets only with --yes", async () => {
    const run = capture();
    await whileRunning(["--seed", "empty"], capture(run.home));
    expect(await reset(run, [])).toBe(1);
    expect(run.err()).toContain(
      "nothing was deleted: there is no terminal to ask on; add --yes to reset.",
    );
    expect(existsSync(join(run.home, "sandbox.json"))).toBe(true);
    expect(await reset(run, ["--yes"])).toBe(0);
    expect(existsSync(join(run.home, "sandbox.json"))).toBe(false);
  });

  it("refuses a ledger with a session that did not run against the sandbox, and deletes nothing", async () => {
    const run = capture();
    await whileRunning([], capture(run.home));
    await ledgerWithSession(run.home, "ses_sandbox1", true);
    await ledgerWithSession(run.home, "ses_realstripe", false);
    expect(await reset(run, ["--yes"])).toBe(1);
    expect(run.err()).toContain("holds 1 session(s) that did not run against its sandbox");
    expect(run.err()).toContain(
      "ses_realstripe  agent support-refunds  started 2031-01-01T00:00:00.000Z",
    );
    expect(run.err()).not.toContain("ses_sandbox1");
    expect(run.err()).toMatch(/Nothing was deleted\.\n$/);
    expect(existsSync(join(run.home, "sandbox.json"))).toBe(true);
    expect(existsSync(join(run.home, "spendguard.db"))).toBe(true);
  });

  it("refuses a data directory that has a ledger but no sandbox", async () => {
    const run = capture();
    await ledgerWithSession(run.home, "ses_realstripe", false);
    expect(await reset(run, ["--yes"])).toBe(1);
    expect(run.err()).toContain("has a ledger but no sandbox state (no sandbox.json)");
    expect(existsSync(join(run.home, "spendguard.db"))).toBe(true);
  });

  it("has nothing to do in an empty data directory", async () => {
    const run = capture();
    expect(await reset(run, ["--yes"])).toBe(0);
    expect(run.out()).toBe(`Nothing to reset: ${run.home} holds no sandbox state and no ledger.\n`);
  });
});
