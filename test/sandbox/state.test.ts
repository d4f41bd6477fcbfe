import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEMO,
  type Sandbox,
  type SandboxOptions,
  SandboxStateError,
  startSandbox,
} from "../../src/sandbox/index.js";
import { raw, stripeFor } from "./helpers.js";

const START = Date.UTC(2031, 0, 1, 12, 0, 0);
const HOUR = 60 * 60 * 1000;

const dirs: string[] = [];
const running: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((box) => box.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "sg-sandbox-state-"));
  dirs.push(dir);
  return join(dir, "sandbox.json");
}

async function start(file: string, options: SandboxOptions = {}): Promise<Sandbox> {
  const box = await startSandbox({ clock: () => START, ...options, stateFile: file });
  running.push(box);
  return box;
}

async function restart(box: Sandbox, options: SandboxOptions = {}): Promise<Sandbox> {
  await box.close();
  return start(box.stateFile as string, options);
}

function postRefund(box: Sandbox, body: string, key: string) {
  return raw(box, "/v1/refunds", {
    method: "POST",
    headers: {
      authorization: `Bearer ${box.keys.admin}`,
      "content-type": "application/x-www-form-urlencoded",
      "idempotency-key": key,
    },
    body,
  });
}

describe("the sandbox's state file", () => {
  it("is written at start (0600) and brings every object back after a restart", async () => {
    const file = stateFile();
    const box = await start(file);
    expect(box.restored).toBe(false);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stripe = stripeFor(box);
    const refund = await stripe.refunds.create({
      charge: DEMO.charges.acmeLarge,
      amount: 2_500,
      metadata: { spendguard_admission: "adm_1" },
    });
    const customer = await stripe.customers.create({ email: "new@example.com" });

    // The seed is not used on a restored state: the file wins.
    const again = await restart(box, { seed: "empty" });
    expect(again.restored).toBe(true);
    const after = stripeFor(again);
    const { lastResponse: _before, ...saved } = refund;
    const { lastResponse: _after, ...read } = await after.refunds.retrieve(refund.id);
    expect(read).toEqual(saved);
    expect((await after.charges.retrieve(DEMO.charges.acmeLarge)).amount_refunded).toBe(2_500);
    expect(await after.customers.retrieve(customer.id)).toMatchObject({ email: "new@example.com" });

    // Objects made after the restart sort after those made before it, in the same second.
    const later = await after.refunds.create({ charge: DEMO.charges.acmeLarge, amount: 100 });
    const listed = await after.refunds.list({ charge: DEMO.charges.acmeLarge });
    expect(listed.data.map((r) => r.id)).toEqual([later.id, refund.id]);
    // No temp file is left beside it.
    expect(readdirSync(join(file, ".."))).toEqual(["sandbox.json", "sandbox.json.lock"]);
  });

  it("keeps idempotency keys: the same POST after a restart replays byte for byte", async () => {
    const box = await start(stateFile());
    const body = `charge=${DEMO.charges.acmeLarge}&amount=700`;
    const first = await postRefund(box, body, "K");
    const again = await restart(box);
    const replay = await postRefund(again, body, "K");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.text).toBe(first.text);
    const refunds = await stripeFor(again).refunds.list({ charge: DEMO.charges.acmeLarge });
    expect(refunds.data).toHaveLength(1);
  });

  it("keeps the clock's offset, so a key's 24 hours run on across a restart", async () => {
    const box = await start(stateFile());
    const body = `charge=${DEMO.charges.acmeLarge}&amount=700`;
    const first = await postRefund(box, body, "K");
    box.advanceClock(23 * HOUR);
    const again = await restart(box);
    expect(again.now()).toBe(START + 23 * HOUR);
    again.advanceClock(HOUR - 1000);
    expect((await postRefund(again, body, "K")).text).toBe(first.text);
    again.advanceClock(2000);
    const fresh = await postRefund(again, body, "K");
    expect(fresh.headers.get("idempotent-replayed")).toBeNull();
    expect(fresh.text).not.toBe(first.text);
  });

  it("saves a clock moved over HTTP", async () => {
    const box = await start(stateFile());
    await raw(box, "/_sandbox/clock", {
      method: "POST",
      body: JSON.stringify({ advance_ms: HOUR }),
    });
    expect((await restart(box)).now()).toBe(START + HOUR);
  });

  it("lets one running sandbox use a file; another is refused until it stops", async () => {
    const file = stateFile();
    const box = await start(file);
    const second = await startSandbox({ stateFile: file }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(SandboxStateError);
    expect((second as Error).message).toBe(
      `the sandbox state ${file} is in use by another running sandbox (process ${process.pid}). Stop that one first, or give this one another state file.`,
    );
    await box.close();
    await expect(start(file)).resolves.toMatchObject({ restored: true });
  });

  it("waits up to stateLockWaitMs for the file, as a restarting server needs", async () => {
    const file = stateFile();
    const box = await start(file);
    const refused = await startSandbox({ stateFile: file, stateLockWaitMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(SandboxStateError);
    const next = start(file, { stateLockWaitMs: 5_000 });
    setTimeout(() => void box.close(), 300);
    await expect(next).resolves.toMatchObject({ restored: true });
  });

  it("takes over a lock left by a process that no longer runs", async () => {
    const file = stateFile();
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    writeFileSync(`${file}.lock`, gone.stdout.toString());
    await expect(start(file)).resolves.toMatchObject({ restored: false });
  });

  it("answers 500 while the state cannot be saved, and catches up once it can", async () => {
    const file = stateFile();
    const box = await start(file);
    const stripe = stripeFor(box);
    // A directory where the file should go: every save fails until it is gone.
    rmSync(file);
    mkdirSync(file);
    const body = `charge=${DEMO.charges.acmeLarge}&amount=700`;
    const failed = await postRefund(box, body, "K");
    expect(failed.status).toBe(500);
    expect(failed.json).toMatchObject({ error: { type: "api_error" } });
    // Reads fail too: nothing is shown that a restart would not bring back.
    expect(
      (await raw(box, "/v1/balance", { headers: { authorization: `Bearer ${box.keys.admin}` } }))
        .status,
    ).toBe(500);

    rmSync(file, { recursive: true });
    const retried = await postRefund(box, body, "K");
    expect(retried.status).toBe(200);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    const refunds = await stripe.refunds.list({ charge: DEMO.charges.acmeLarge });
    const again = await restart(box);
    expect((await stripeFor(again).refunds.list({ charge: DEMO.charges.acmeLarge })).data).toEqual(
      refunds.data,
    );
  });

  describe("a file it cannot use is refused with what is wrong and what to do", () => {
    const MOVE = "Move it away (or delete it) to start again from the seed data.";
    const valid = async () => {
      const file = stateFile();
      await (await start(file)).close();
      return { file, json: JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> };
    };

    it("cut short", async () => {
      const { file } = await valid();
      writeFileSync(file, readFileSync(file, "utf8").slice(0, 100));
      const error = await startSandbox({ stateFile: file }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SandboxStateError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^the sandbox state ${file} is not valid JSON \\(.+\\): it was cut short or edited\\. ${MOVE.replace(/[()]/g, "\\$&")}$`,
        ),
      );
    });

    it.each([
      [
        "foreign JSON",
        () => ({ hello: "world" }),
        /is not a spendguard sandbox state file \(it has no "format": "spendguard-sandbox-state"\)/,
      ],
      [
        "a newer version",
        (json: Record<string, unknown>) => ({ ...json, version: 2 }),
        /has format version 2; this spendguard reads version 1/,
      ],
      [
        "a damaged record",
        (json: Record<string, unknown>) => {
          const objects = json.objects as Record<string, Record<string, unknown>[]>;
          (objects.charges as Record<string, unknown>[])[0] = { id: "ch_x" };
          return json;
        },
        /is damaged at objects\.charges\[0\]\.account: /,
      ],
      [
        "an object of an account it does not list",
        (json: Record<string, unknown>) => ({ ...json, accounts: [] }),
        /is damaged: \w+ belongs to acct_1SgConnectedShop, an account it does not list/,
      ],
    ])("%s", async (_case, edit, message) => {
      const { file, json } = await valid();
      writeFileSync(file, JSON.stringify(edit(json)));
      const error = await startSandbox({ stateFile: file }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SandboxStateError);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toMatch(message);
      // Refused before taking the file: the lock is gone, nothing was written over it.
      expect(readdirSync(join(file, ".."))).toEqual(["sandbox.json"]);
    });
  });
});
