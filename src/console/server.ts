import { createServer, type IncomingMessage } from "node:http";
import { redactSecrets } from "../audit/redact.js";
import type { Logger } from "../logger.js";
import { listenGuarded } from "../transports/http-listen.js";
import { isLoopback, type OriginCheck } from "../transports/http-origin.js";
import type { Console } from "./console.js";
import { sendText } from "./request.js";

/**
 * `spendguard console`: the console alone on its own port, for deployments whose agents
 * use stdio only. The same Host and Origin checks as `serve --http`; `/` leads to
 * `/console`, anything else is 404.
 */

export interface ConsoleServerOptions {
  host: string;
  port: number;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  console: Console;
  logger: Logger;
}

export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

export async function serveConsole(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { logger } = options;
  let checkOrigin: ((req: IncomingMessage) => OriginCheck) | undefined;
  const server = createServer((req, res) => {
    const origin = checkOrigin?.(req);
    if (!origin?.ok) {
      sendText(res, 403, origin?.message ?? "Not ready.");
      return;
    }
    const url = new URL(req.url ?? "/", "http://spendguard.invalid");
    if (url.pathname === "/") {
      res.writeHead(302, { Location: "/console" }).end();
      return;
    }
    options.console.route(req, res, url).then(
      (answered) => {
        if (!answered) sendText(res, 404, "Not found: the console is at /console.");
      },
      (err: unknown) => {
        logger.error({ err: redactSecrets(String(err)), url: req.url }, "console request failed");
        if (!res.headersSent) sendText(res, 500, "Internal error.");
        else res.end();
      },
    );
  });
  const bound = await listenGuarded(server, {
    host: options.host,
    port: options.port,
    allowedHosts: options.allowedHosts,
    allowedOrigins: options.allowedOrigins,
  });
  const { port } = bound;
  checkOrigin = bound.checkOrigin;
  if (!isLoopback(options.host)) {
    logger.warn(
      { host: options.host },
      "console listening beyond loopback: put TLS in front (cookies are Secure only over TLS)",
    );
  }
  const hostInUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostInUrl}:${port}`,
    close: async () => {
      options.console.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
