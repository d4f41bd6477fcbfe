import { describe, expect, it } from "vitest";
import { argumentsDigest, RequestStateSealer } from "../../src/request-state.js";

/**
 * The sealed `requestState` of a 2026-07-28 in-band approval: the client carries it
 * between the question and the retry, so it must open only for the call it was made for,
 * once, before it expires, and not at all once touched.
 */

const call = {
  session: "ses_0123456789abcdef01234567",
  key: "key_0123456789abcdef",
  tool: "issue_refund",
  args: argumentsDigest('{"amount":5000,"charge":"ch_1"}'),
};
const state = { approval: "apr_0123456789abcdef01234567", ...call, expiresAt: 10_000 };

describe("RequestStateSealer", () => {
  it("opens what it sealed, for the same call, once", () => {
    const sealer = new RequestStateSealer(() => 5_000);
    const token = sealer.seal(state);
    expect(sealer.open(token, call)).toEqual({ ok: true, state });
    expect(sealer.open(token, call)).toMatchObject({ ok: false, reason: "used" });
  });

  it("hides what it carries: no id or argument digest readable in the token", () => {
    const token = new RequestStateSealer().seal(state);
    const decoded = Buffer.from(token, "base64url").toString("latin1");
    expect(decoded).not.toContain("apr_");
    expect(decoded).not.toContain(call.args);
  });

  it("refuses another caller, another tool or other arguments", () => {
    const sealer = new RequestStateSealer(() => 5_000);
    const others = [
      { ...call, session: "ses_ffffffffffffffffffffffff" },
      { ...call, key: "key_ffffffffffffffff" },
      { ...call, key: null },
      { ...call, tool: "cancel_subscription" },
      { ...call, args: argumentsDigest('{"amount":500000,"charge":"ch_1"}') },
    ];
    for (const other of others) {
      expect(sealer.open(sealer.seal(state), other)).toEqual({ ok: false, reason: "other_call" });
    }
  });

  it("refuses a token changed in any byte, cut short, from another process, or not a string", () => {
    const sealer = new RequestStateSealer(() => 5_000);
    const token = sealer.seal(state);
    const raw = Buffer.from(token, "base64url");
    for (let i = 0; i < raw.length; i += 7) {
      const flipped = Buffer.from(raw);
      flipped[i] = (flipped[i] ?? 0) ^ 0x01;
      expect(sealer.open(flipped.toString("base64url"), call).ok).toBe(false);
    }
    expect(sealer.open(token.slice(0, 20), call)).toEqual({ ok: false, reason: "invalid" });
    expect(new RequestStateSealer().open(token, call)).toEqual({ ok: false, reason: "invalid" });
    for (const junk of [undefined, 42, {}, "x".repeat(10_000)]) {
      expect(sealer.open(junk, call)).toEqual({ ok: false, reason: "invalid" });
    }
  });

  it("says when a state has expired, so the guard records the question as unanswered", () => {
    let now = 5_000;
    const sealer = new RequestStateSealer(() => now);
    const token = sealer.seal(state);
    now = 10_001;
    expect(sealer.open(token, call)).toEqual({ ok: false, reason: "expired", state });
  });
});
