import { readEnvironment } from "../../config.js";
import { createConsole } from "../../console/console.js";
import { serveConsole } from "../../console/server.js";
import { createLogger } from "../../logger.js";
import { HOME_FLAG, homeOf, parseCount, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { openExistingStore } from "../data.js";

const USAGE = `Usage: spendguard console [--port 3100] [--host 127.0.0.1] [--home DIR] [options]

Serves the operator console alone, on the data directory's store: for deployments whose
agents use stdio only (\`spendguard serve --http\` serves the same console at /console
beside /mcp). Open http://HOST:PORT/console and sign in with an operator key
(\`spendguard keys create --operator --name YOUR_NAME\`); agent keys cannot sign in.

The console shows every active session with its spend against each cap (live), spend per
agent over 24 h, 7 d and 30 d, each session's calls, the approval queue, the audit with
filters, live follow and CSV/JSON export, and the keys; it kills sessions, agents or all,
decides approvals and creates and revokes keys, through the same functions as the CLI.

Options:
  --port N                port (default 3100; 0 picks a free one, logged as "listening")
  --host HOST             address to listen on (default 127.0.0.1; anything but loopback
                          is logged as a warning: put TLS in front of it)
  --allow-origin ORIGIN   a web page origin allowed besides loopback ones (repeatable)
  --allow-host HOST[:PORT]  a Host header allowed besides this server's own address,
                          e.g. the name a reverse proxy forwards (repeatable)
  --policy FILE           a policy file to show caps from, besides those of the keys and
                          the ready policies (repeatable; also SPENDGUARD_POLICY)
  --home DIR              data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

SIGINT/SIGTERM stop it. Logs go to stderr as JSON lines.

Exit code: 0 stopped by a signal, 1 no database in the data directory, 2 usage.
`;

export const consoleCommand: CliCommand = {
  name: "console",
  summary: "serve the operator console (sessions, spend, kill, approvals, audit, keys) alone",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      ...HOME_FLAG,
      port: { type: "string" },
      host: { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      policy: { type: "string", multiple: true },
    });
    const port = values.port === undefined ? 3100 : parseCount("port", values.port);
    if (port > 65_535) throw new UsageError(`--port must be 0 to 65535, got '${values.port}'`);
    const env = readEnvironment(io.env);
    const logger = createLogger(env.logLevel ?? "info");
    const home = homeOf(values.home, io.env);
    const store = openExistingStore(home);
    const operatorConsole = createConsole({
      store,
      home,
      logger,
      policyFiles: [...(values.policy ?? []), ...(env.policyFile ? [env.policyFile] : [])],
    });
    const server = await serveConsole({
      host: values.host ?? "127.0.0.1",
      port,
      allowedHosts: values["allow-host"] ?? [],
      allowedOrigins: values["allow-origin"] ?? [],
      console: operatorConsole,
      logger,
    });
    logger.info({ url: server.url, console: `${server.url}/console`, home }, "listening");
    io.stdout.write(
      `spendguard console on ${server.url}/console (data: ${home})\nSign in with an operator key: spendguard keys create --operator --name YOUR_NAME\n`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await server.close();
    await store.close();
    return 0;
  },
};
