import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/command.js";
import { runSandbox, sandboxCommand } from "../../src/cli/commands/sandbox.js";
import { DEMO } from "../../src/sandbox/index.js";

function capture() {
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
  return { io: { stdout, stderr, env: {} }, out: () => out, err: () => err };
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
