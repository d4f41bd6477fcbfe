import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { redactSecrets } from "../audit/redact.js";
import type { KeyCheck } from "../keys/api-keys.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "./registry.js";

/**
 * `GET /metrics`: Prometheus text for a scraper holding an operator key or the
 * `--metrics-token`, as `Authorization: Bearer …`. Agent keys are refused: an agent has
 * no business reading every agent's spend.
 */

export interface MetricsEndpointOptions {
  metrics: Metrics;
  checkKey(token: string | undefined): Promise<KeyCheck>;
  /** `--metrics-token`; `null` when only operator keys may scrape. */
  token: string | null;
  logger: Logger;
}

/** Shorter tokens are refused at start-up: a scraper's token should not be guessable. */
export const MIN_METRICS_TOKEN = 16;

export function metricsEndpoint(
  options: MetricsEndpointOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const tokenHash = options.token === null ? null : sha256(options.token);
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      plain(res, 405, "Use GET /metrics.", { Allow: "GET, HEAD" });
      return;
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (token === undefined) {
      plain(res, 401, "An operator key or the metrics token is needed: Authorization: Bearer …", {
        "WWW-Authenticate": 'Bearer realm="spendguard metrics"',
      });
      return;
    }
    const isToken = tokenHash !== null && timingSafeEqual(sha256(token), tokenHash);
    if (!isToken) {
      const check = await options.checkKey(token);
      if (!check.ok) {
        plain(res, 401, "This token is neither the metrics token nor a usable operator key.", {
          "WWW-Authenticate": 'Bearer realm="spendguard metrics", error="invalid_token"',
        });
        return;
      }
      if (check.key.kind !== "operator") {
        plain(
          res,
          403,
          "An agent key cannot read metrics; use an operator key or the metrics token.",
        );
        return;
      }
    }
    let text: string;
    try {
      text = await options.metrics.render();
    } catch (err) {
      options.logger.error({ err: redactSecrets(String(err)) }, "metrics: scrape failed");
      plain(res, 500, "The metrics could not be read; the server log says why.");
      return;
    }
    res.writeHead(200, {
      "Content-Type": options.metrics.contentType,
      "Cache-Control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : text);
  };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function plain(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { ...headers, "Content-Type": "text/plain; charset=utf-8" })
    .end(`${message}\n`);
}
