import type { Server } from "@modelcontextprotocol/server";
import { serveStdio as serveStdioEntry } from "@modelcontextprotocol/server/stdio";

/**
 * stdio: one process is one session, on whichever revision the client opens with (the
 * SDK's entry answers `server/discover` for 2026-07-28 and `initialize` for 2025
 * revisions, and pins the connection to it). Resolves when the client goes away (stdin
 * closes), so the caller can end the session and release resources.
 */
export async function serveStdio(factory: () => Server): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    process.stdin.once("end", () => resolve());
    process.stdin.once("close", () => resolve());
  });
  const handle = serveStdioEntry(factory);
  await closed;
  await handle.close();
}
