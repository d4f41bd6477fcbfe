// End-to-end tool call latency: the SDK's Client → the built server (stdio child process,
// or Streamable HTTP) → the sandbox (its own process), one call at a time, for a read
// (lookup_charge) and a refund (issue_refund). Read and refund calls alternate.
import { performance } from "node:perf_hooks";
import {
  callTool,
  connectHttp,
  connectStdio,
  createAgentKey,
  heading,
  row,
  scaled,
  serverEnv,
  startHttpServer,
  startSandboxProcess,
  stats,
  tempDir,
  verdict,
} from "./lib.mjs";

async function measure(client, sandbox, calls, warmup, counter) {
  const read = [];
  const refund = [];
  for (let i = 0; i < warmup + calls; i++) {
    for (const [tool, samples, args] of [
      ["lookup_charge", read, sandbox.readArgs(counter.n++)],
      ["issue_refund", refund, sandbox.refundArgs(counter.n++)],
    ]) {
      const started = performance.now();
      const outcome = await callTool(client, tool, args);
      const took = performance.now() - started;
      if (!outcome.ok) throw new Error(`${tool} refused: ${outcome.code}`);
      if (i >= warmup) samples.push(took);
    }
  }
  return { read: stats(read), refund: stats(refund) };
}

export async function run({ calls = scaled(500, 50), warmup = scaled(50, 10) } = {}) {
  heading("End-to-end tool call latency (SDK client → server → sandbox, one call at a time)");
  const sandbox = await startSandboxProcess({ charges: 200 });
  const counter = { n: 0 };
  console.log(`  ${calls} calls of each tool per transport after ${warmup} warm-up`);

  const stdioHome = tempDir();
  const stdio = await connectStdio(serverEnv(stdioHome, sandbox));
  const overStdio = await measure(stdio.client, sandbox, calls, warmup, counter);
  await stdio.close();

  const httpHome = tempDir();
  const key = await createAgentKey(httpHome);
  const server = await startHttpServer(serverEnv(httpHome, sandbox));
  const session = await connectHttp(server.url, key);
  const overHttp = await measure(session.client, sandbox, calls, warmup, counter);
  await session.close();
  await server.stop();
  await sandbox.close();

  console.log(row("stdio, lookup_charge (read)", overStdio.read));
  console.log(row("stdio, issue_refund (refund)", overStdio.refund));
  console.log(row("Streamable HTTP, lookup_charge (read)", overHttp.read));
  console.log(row("Streamable HTTP, issue_refund (refund)", overHttp.refund));
  console.log(
    `  ratio HTTP/stdio p50: read ${(overHttp.read.p50 / overStdio.read.p50).toFixed(2)}, refund ${(overHttp.refund.p50 / overStdio.refund.p50).toFixed(2)}`,
  );
  verdict(
    `e2e p50 stdio read ${overStdio.read.p50.toFixed(2)} ms / refund ${overStdio.refund.p50.toFixed(2)} ms, HTTP read ${overHttp.read.p50.toFixed(2)} ms / refund ${overHttp.refund.p50.toFixed(2)} ms (no target: reported)`,
    null,
  );
  return { stdio: overStdio, http: overHttp };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
