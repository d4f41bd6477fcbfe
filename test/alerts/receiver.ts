import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook receiver on 127.0.0.1: records every POST (path, headers, body, when it
 * arrived) and answers with `status`, which a test can change to take it "down".
 */

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver answered. */
  answered: number;
}

export interface Receiver {
  url: string;
  status: number;
  received: Received[];
  /** Resolves once `count` requests (matching `where`) arrived; rejects after `timeoutMs`. */
  waitFor(count: number, where?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let waiters: (() => void)[] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      received.push({
        path: req.url ?? "/",
        headers: req.headers,
        body,
        at: Date.now(),
        answered: state.status,
      });
      res
        .writeHead(state.status, { "Content-Type": "text/plain" })
        .end(state.status < 300 ? "ok" : "down");
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get status() {
      return state.status;
    },
    set status(value: number) {
      state.status = value;
    },
    received,
    waitFor(count, where = () => true, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(
            new Error(
              `receiver: ${received.filter(where).length} of ${count} requests after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const matching = received.filter(where);
          if (matching.length >= count) {
            clearTimeout(timer);
            resolve(matching);
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The README's verification, as a receiver would write it. */
export function verifySignature(
  header: string,
  body: string,
  secret: string,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(
    header.split(",").map((part) => part.split("=", 2) as [string, string]),
  );
  const t = Number(parts.t);
  const expected = createHmac("sha256", secret).update(`${parts.t}.${body}`).digest("hex");
  const given = Buffer.from(parts.v1 ?? "", "utf8");
  const fresh = Math.abs(Date.now() / 1000 - t) <= toleranceSeconds;
  return (
    fresh &&
    given.length === expected.length &&
    timingSafeEqual(given, Buffer.from(expected, "utf8"))
  );
}
