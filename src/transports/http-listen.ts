import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type OriginCheck, type OriginRules, originChecker } from "./http-origin.js";

/**
 * Binds one of spendguard's HTTP listeners (the MCP endpoint, the console) with the
 * limits they all keep: slow or vanishing clients cannot hold sockets or take the
 * process down. Resolves with the bound port and the Host/Origin check for that port
 * (port 0 is only known once bound).
 */
export async function listenGuarded(
  server: Server,
  bind: Omit<OriginRules, "port"> & { port: number },
): Promise<{ port: number; checkOrigin: (req: IncomingMessage) => OriginCheck }> {
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return { port, checkOrigin: originChecker({ ...bind, port }) };
}
