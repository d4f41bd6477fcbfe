import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { originChecker } from "../../src/transports/http-origin.js";
import { RateLimiter } from "../../src/transports/rate-limit.js";

/** The request checks on their own: DNS rebinding rules and the per-key token bucket. */

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("originChecker", () => {
  const loopback = originChecker({
    host: "127.0.0.1",
    port: 3000,
    allowedHosts: [],
    allowedOrigins: ["https://app.example"],
  });

  it("a loopback server answers its loopback names, from no page, loopback pages and allowed origins", () => {
    for (const host of ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "LOCALHOST:3000"]) {
      expect(loopback(request({ host })), host).toEqual({ ok: true });
    }
    for (const origin of ["http://localhost:6274", "https://127.0.0.1", "https://app.example"]) {
      expect(loopback(request({ host: "localhost:3000", origin })), origin).toEqual({ ok: true });
    }
  });

  it("refuses other names, other ports, foreign and opaque origins", () => {
    for (const host of ["evil.example:3000", "127.0.0.1:3001", "127.0.0.1", ""]) {
      expect(loopback(request({ host })), host).toMatchObject({
        ok: false,
        code: "host_not_allowed",
      });
    }
    for (const origin of [
      "http://evil.example",
      "null",
      "http://localhost.evil.example",
      "https://app.example:8443",
    ]) {
      expect(loopback(request({ host: "localhost:3000", origin })), origin).toMatchObject({
        ok: false,
        code: "origin_not_allowed",
      });
    }
  });

  it("a server bound elsewhere answers its own address and --allow-host names only", () => {
    const lan = originChecker({
      host: "10.0.0.5",
      port: 8080,
      allowedHosts: ["spendguard.internal"],
      allowedOrigins: [],
    });
    expect(lan(request({ host: "10.0.0.5:8080" }))).toEqual({ ok: true });
    expect(lan(request({ host: "spendguard.internal" }))).toEqual({ ok: true });
    expect(lan(request({ host: "localhost:8080" }))).toMatchObject({ ok: false });
  });
});

describe("RateLimiter", () => {
  it("allows a burst, then one request per 1/rate seconds, per key", () => {
    let now = 0;
    const limiter = new RateLimiter(2, 4, () => now);
    const burst = Array.from({ length: 5 }, () => limiter.take("a"));
    expect(burst.map((r) => r.allowed)).toEqual([true, true, true, true, false]);
    expect(burst[4]).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("b").allowed).toBe(true);
    now += 500;
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    now += 10_000;
    limiter.prune();
    expect(Array.from({ length: 4 }, () => limiter.take("a").allowed)).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });
});
