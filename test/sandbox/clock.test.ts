import { describe, expect, it } from "vitest";
import { DEMO, type Sandbox } from "../../src/sandbox/index.js";
import { raw, sandbox, stripeFor } from "./helpers.js";

const START = Date.UTC(2031, 0, 1, 12, 0, 0);
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;

/** The sandbox's clock moved over HTTP, as a test that spawned a server does it. */
function moveClock(box: Sandbox, body: unknown) {
  return raw(box, "/_sandbox/clock", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** `POST /v1/refunds` as bytes, with a fixed key: what a client retrying a call sends. */
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

const refundId = (reply: { json: unknown }) => (reply.json as { id: string }).id;

describe("the sandbox's clock", () => {
  it("GET /_sandbox/clock tells the sandbox's now; POST moves it, and new objects carry it", async () => {
    const box = await sandbox({ clock: () => START });
    expect((await raw(box, "/_sandbox/clock")).json).toEqual({
      now: START,
      iso: "2031-01-01T12:00:00.000Z",
      offset_ms: 0,
    });
    const moved = await moveClock(box, { advance_ms: 2 * HOUR });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ now: START + 2 * HOUR, offset_ms: 2 * HOUR });
    expect(box.now()).toBe(START + 2 * HOUR);

    const set = await moveClock(box, { now: START + 5 * HOUR });
    expect(set.json).toMatchObject({ now: START + 5 * HOUR, iso: "2031-01-01T17:00:00.000Z" });
    const refund = await stripeFor(box).refunds.create({
      charge: DEMO.charges.acmeLarge,
      amount: 100,
    });
    expect(refund.created).toBe((START + 5 * HOUR) / 1000);
    expect(box.requests.at(-1)?.at).toBe(START + 5 * HOUR);
  });

  it("the handle moves the same clock: advanceClock and setClock", async () => {
    let source = START;
    const box = await sandbox({ clock: () => source });
    expect(box.advanceClock(MINUTE)).toBe(START + MINUTE);
    // The injected source keeps running underneath the offset.
    source += 1000;
    expect(box.now()).toBe(START + MINUTE + 1000);
    expect(box.setClock(START + HOUR)).toBe(START + HOUR);
    expect((await raw(box, "/_sandbox/clock")).json).toMatchObject({ now: START + HOUR });
  });

  it.each([
    [
      "backwards",
      { now: START - 1 },
      /never goes backwards: now is \d+ \(2031-01-01T12:00:00\.000Z\)/,
    ],
    ["zero", { advance_ms: 0 }, /advance_ms must be a whole number of milliseconds above 0, got 0/],
    ["negative", { advance_ms: -5 }, /above 0, got -5/],
    ["a fraction", { advance_ms: 1.5 }, /whole number/],
    ["more than 366 days", { advance_ms: 367 * 24 * HOUR }, /at most 366 days/],
    ["a string", { advance_ms: "60000" }, /one field: \{"advance_ms": N\}/],
    ["both fields", { advance_ms: 1, now: START + 1 }, /one field/],
    ["another field", { seconds: 1 }, /one field/],
    ["not an object", [1], /one field/],
  ])("refuses a move %s with a 400 and leaves the clock alone", async (_case, body, message) => {
    const box = await sandbox({ clock: () => START });
    const reply = await moveClock(box, body);
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ error: { type: "invalid_request_error" } });
    expect((reply.json as { error: { message: string } }).error.message).toMatch(message);
    expect(box.now()).toBe(START);
  });

  it("refuses a body that is not JSON", async () => {
    const box = await sandbox({ clock: () => START });
    const reply = await raw(box, "/_sandbox/clock", { method: "POST", body: "advance=1" });
    expect(reply.status).toBe(400);
    expect(box.now()).toBe(START);
  });
});

describe("an idempotency key's 24 hours, on the moved clock", () => {
  const body = `charge=${DEMO.charges.acmeLarge}&amount=2500`;

  it("at 23 h 59 m the same POST replays the first refund; at 24 h 1 s it makes a second one", async () => {
    const box = await sandbox({ clock: () => START });
    const first = await postRefund(box, body, "K");
    expect(first.status).toBe(200);

    await moveClock(box, { advance_ms: 23 * HOUR + 59 * MINUTE });
    const replay = await postRefund(box, body, "K");
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.text).toBe(first.text);

    await moveClock(box, { advance_ms: MINUTE + 1000 });
    const second = await postRefund(box, body, "K");
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(refundId(second)).not.toBe(refundId(first));
    expect((second.json as { created: number }).created).toBe((START + 24 * HOUR + 1000) / 1000);

    const refunds = await stripeFor(box).refunds.list({ charge: DEMO.charges.acmeLarge });
    expect(refunds.data.map((r) => r.id)).toEqual([refundId(second), refundId(first)]);
  });

  it("the last part of a charge refunded, key expired: the replay is Stripe's charge_already_refunded", async () => {
    const box = await sandbox({ clock: () => START });
    const charge = DEMO.charges.acmePartiallyRefunded;
    const rest = await postRefund(box, `charge=${charge}`, "rest");
    expect(rest.json).toMatchObject({ amount: 2_145 });

    box.advanceClock(24 * HOUR + 1000);
    const again = await postRefund(box, `charge=${charge}`, "rest");
    expect(again.status).toBe(400);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    const requestId = again.headers.get("request-id");
    expect(again.json).toEqual({
      error: {
        code: "charge_already_refunded",
        doc_url: "https://stripe.com/docs/error-codes/charge-already-refunded",
        message: `Charge ${charge} has already been refunded.`,
        request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${(START + 24 * HOUR + 1000) / 1000}`,
        type: "invalid_request_error",
      },
    });
  });
});
