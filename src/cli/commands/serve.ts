import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { TOOLS } from "../../../tools/index.js";
import { databaseUrl, type Environment, readEnvironment } from "../../config.js";
import { createConsole } from "../../console/console.js";
import { ConfigError, SpendguardError } from "../../errors.js";
import { Guard } from "../../guard/guard.js";
import { Heartbeat } from "../../guard/heartbeat.js";
import { endSession, startSession } from "../../guard/sessions.js";
import { Takeover } from "../../guard/takeover.js";
import { checkApiKey, keyStatus } from "../../keys/api-keys.js";
import { createLogger, type Logger } from "../../logger.js";
import { MIN_METRICS_TOKEN, metricsEndpoint } from "../../metrics/endpoint.js";
import { ConsentPages } from "../../oauth/consent.js";
import { createAuthorizationServer } from "../../oauth/server.js";
import { createOperatorServer, newOperatorSessionId } from "../../operator/server.js";
import { OPERATOR_TOOLS } from "../../operator/tools/index.js";
import { loadPolicy, parseDuration } from "../../policy/load.js";
import { RequestStateSealer } from "../../request-state.js";
import { type Sandbox, SandboxStateError, startSandbox } from "../../sandbox/index.js";
import { createServer, type GuardSession } from "../../server.js";
import { openStore } from "../../store/open.js";
import type { RequestObserver } from "../../stripe/attempts.js";
import { type HttpRoute, serveHttp } from "../../transports/http.js";
import { SessionOpener } from "../../transports/mcp-sessions.js";
import { serveStdio } from "../../transports/stdio.js";
import { sandboxUpstream, stripeUpstream, type Upstream } from "../../transports/upstream.js";
import { PACKAGE_ROOT } from "../../version.js";
import { parseCount, parseFlags } from "../args.js";
import { type CliCommand, UsageError } from "../command.js";
import { wrapWords } from "../format.js";
import { watchStore } from "../observability.js";
import { noteSandboxSessions, sandboxStateFile, stateProblem } from "../sandbox-home.js";

const USAGE = `Usage: spendguard serve [--policy FILE] [options]          one agent session over stdio
       spendguard serve --http [--host HOST] [--port N] [options]
       spendguard serve --operator                            operator tools over stdio

Protocol revisions 2024-11-05 to 2025-11-25 and 2026-07-28 (server/discover), on stdio
and Streamable HTTP. stdio: one process is one guard session, for the agent the policy
(or --agent) names.

--http: agents and operators connect over HTTP, each with its own key (\`spendguard keys
create\`): Streamable HTTP on /mcp and, for older clients, HTTP+SSE on /sse + /messages,
on one port. Each MCP session (up to revision 2025-11-25) is one guard session; on
2026-07-28, which has no transport session, an agent key's requests share one guard
session until it idles out. The agent's name and policy come from its key, or from the
OAuth grant an operator gave a hosted client (/authorize, /token, /register; discovery at
/.well-known/oauth-protected-resource). Requests without a valid key or access token get
401; an operator key opens an operator session with the operator tools below (no Stripe
tool). With --metrics-token or an operator key, GET /metrics answers in the Prometheus
text format. The operator console is at /console on the same port (sign in with an operator
key; see \`spendguard console --help\`). SIGINT/SIGTERM stop it gracefully: tool calls
under way finish first (10 s at most), then every session ends. A call that needs a
person's approval waits for the operator: the agent's own MCP client is asked only under
approval_via: client or either.

--operator: the operator tools over stdio, beside the agents' servers on the same
SPENDGUARD_HOME (no Stripe key needed).

Operator tools (an operator key's session over HTTP, or serve --operator):
${wrapWords(
  OPERATOR_TOOLS.map((tool) => tool.name),
  "  ",
)}

Options:
  --policy FILE           policy file (or SPENDGUARD_POLICY); stdio only
  --agent NAME            agent name for caps and audit (default: the policy name); stdio only
  --sandbox               start an in-process Stripe sandbox with demo data and use its
                          restricted key for each policy's role (a policy named after a
                          demo role gets that role's key, any other the sandbox's admin key).
                          Its Stripe data is kept in $SPENDGUARD_HOME/sandbox.json, beside
                          the ledger, so both agree across restarts; \`spendguard sandbox
                          reset\` clears both. One sandbox per data directory at a time.
  --read-only             list and allow only read tools, whatever the policy enables
  --allow-secret-key      accept a standard sk_ key (not recommended: use a restricted key)
  --alerts FILE           alert rules and where to send them (or SPENDGUARD_ALERTS; see
                          the README's "Alerts"): checked at start-up
HTTP options:
  --host HOST             address to listen on (default 127.0.0.1; anything but loopback
                          is logged as a warning: put TLS in front of it)
  --port N                port (default 3000; 0 picks a free one, logged as "listening")
  --allow-origin ORIGIN   a web page origin allowed besides loopback ones (repeatable)
  --allow-host HOST[:PORT]  a Host header allowed besides this server's own address,
                          e.g. the name a reverse proxy forwards (repeatable)
  --idle-timeout DURATION end a session after this long without a request (default 30m)
  --empty-idle-timeout DURATION  the same for a session that has made no tool call yet,
                          such as the spare session some clients open (default 1m)
  --rate-limit N          requests per second per key, in bursts of up to 2N (default 20)
  --public-url URL        the base URL clients reach this server at, when TLS terminates
                          in front of it (https://spendguard.example.com): the OAuth issuer
                          and resource; its host and origin are allowed (default: the
                          address it listens on)
  --access-token-ttl DURATION  how long an OAuth access token works (default 1h; clients
                          refresh it)
  --metrics-token TOKEN   a bearer token (16+ characters) a Prometheus scraper may read
                          /metrics with; operator keys may always

Logs go to stderr as JSON lines: warnings and errors only over stdio, info and up over
HTTP. SPENDGUARD_LOG_LEVEL=info (or debug) shows more, e.g. each session opened.

Environment: STRIPE_API_KEY, SPENDGUARD_POLICY, SPENDGUARD_HOME, SPENDGUARD_DATABASE_URL,
SPENDGUARD_STRIPE_BASE_URL, SPENDGUARD_STRIPE_TIMEOUT_MS, SPENDGUARD_LOG_LEVEL,
SPENDGUARD_ALERTS, SPENDGUARD_HOST_ID.
`;

export const serveCommand: CliCommand = {
  name: "serve",
  summary: "run the MCP server: one agent over stdio, or agents and operators over HTTP",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      policy: { type: "string" },
      sandbox: { type: "boolean" },
      "read-only": { type: "boolean" },
      agent: { type: "string" },
      "allow-secret-key": { type: "boolean" },
      operator: { type: "boolean" },
      http: { type: "boolean" },
      host: { type: "string" },
      port: { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      "idle-timeout": { type: "string" },
      "empty-idle-timeout": { type: "string" },
      "rate-limit": { type: "string" },
      "public-url": { type: "string" },
      "access-token-ttl": { type: "string" },
      alerts: { type: "string" },
      "metrics-token": { type: "string" },
      database: { type: "string" },
    });
    const env = readEnvironment(io.env);
    if (values.database !== undefined) env.databaseUrl = databaseUrl("--database", values.database);
    // stdio: the MCP client shows stderr in its own window (the Inspector in every
    // terminal), so only warnings and errors by default. HTTP is a service: info.
    const logger = createLogger(env.logLevel ?? (values.http ? "info" : "warn"));
    const given = (names: readonly (keyof typeof values)[]) =>
      names.filter((name) => values[name] !== undefined).map((name) => `--${name}`);
    const httpOnly = given([
      "host",
      "port",
      "allow-origin",
      "allow-host",
      "idle-timeout",
      "empty-idle-timeout",
      "rate-limit",
      "public-url",
      "access-token-ttl",
      "metrics-token",
    ]);

    if (values.operator) {
      const extra = [
        ...given(["policy", "agent", "sandbox", "read-only", "allow-secret-key", "http", "alerts"]),
        ...httpOnly,
      ];
      if (extra.length > 0) {
        throw new UsageError(
          `serve --operator takes no ${extra.join(", ")} (over HTTP, operators use an operator key: spendguard keys create --operator)`,
        );
      }
      return serveOperatorStdio(env, logger);
    }
    if (values.http) {
      const extra = given(["policy", "agent"]);
      if (extra.length > 0) {
        throw new UsageError(
          `serve --http takes no ${extra.join(", ")}: each agent's name and policy come from its key (spendguard keys create --agent NAME --policy FILE)`,
        );
      }
      const publicUrl =
        values["public-url"] === undefined ? undefined : publicUrlFlag(values["public-url"]);
      return serveOverHttp(env, logger, {
        host: values.host ?? "127.0.0.1",
        publicUrl,
        accessTokenTtlMs: durationFlag("access-token-ttl", values["access-token-ttl"] ?? "1h"),
        port: values.port === undefined ? 3000 : parsePort(values.port),
        allowedOrigins: [
          ...(values["allow-origin"] ?? []),
          ...(publicUrl ? [publicUrl.origin] : []),
        ],
        allowedHosts: [...(values["allow-host"] ?? []), ...(publicUrl ? [publicUrl.host] : [])],
        idleTimeoutMs: durationFlag("idle-timeout", values["idle-timeout"] ?? "30m"),
        emptyIdleTimeoutMs: durationFlag(
          "empty-idle-timeout",
          values["empty-idle-timeout"] ?? "1m",
        ),
        rateLimit:
          values["rate-limit"] === undefined ? 20 : positive("rate-limit", values["rate-limit"]),
        sandbox: values.sandbox ?? false,
        readOnly: values["read-only"] ?? false,
        allowSecretKey: values["allow-secret-key"] ?? false,
        alertsFile: values.alerts ?? env.alertsFile,
        metricsToken: metricsToken(values["metrics-token"]),
        env: io.env,
      });
    }
    if (httpOnly.length > 0) throw new UsageError(`${httpOnly.join(", ")} need --http`);
    return serveAgentStdio(env, logger, {
      policyFile: values.policy ?? env.policyFile,
      agent: values.agent,
      sandbox: values.sandbox ?? false,
      readOnly: values["read-only"] ?? false,
      allowSecretKey: values["allow-secret-key"] ?? false,
      alertsFile: values.alerts ?? env.alertsFile,
      env: io.env,
    });
  },
};

/** stdio: one process, one guard session. */
async function serveAgentStdio(
  env: Environment,
  logger: Logger,
  options: {
    policyFile: string | undefined;
    agent: string | undefined;
    sandbox: boolean;
    readOnly: boolean;
    allowSecretKey: boolean;
    alertsFile: string | undefined;
    env: NodeJS.ProcessEnv;
  },
): Promise<number> {
  if (!options.policyFile)
    throw new UsageError("no policy: pass --policy FILE or set SPENDGUARD_POLICY");
  const policy = loadPolicy(options.policyFile, TOOLS);
  const sandbox = options.sandbox ? await startHomeSandbox(env.home, logger) : undefined;
  try {
    const stripe = upstreamOf(sandbox, env, options.allowSecretKey, logger).clientFor(policy);
    const watched = await watchStore(() => openStore(env), {
      alertsFile: options.alertsFile,
      env: options.env,
      metrics: false,
      logger,
    });
    const { store, alerts } = watched;
    const heartbeat = await Heartbeat.start(store, logger);
    if (sandbox) noteSandboxSessions(store, env.home);
    // Opened at start: its reconciliation settles what an earlier crash left, and a kill
    // by agent finds it. (A 2026-07-28 client's throwaway probe process opens one too: it
    // shows under `spendguard sessions --empty`.)
    let session: Awaited<ReturnType<typeof startSession>>;
    try {
      session = await startSession(store, {
        policy,
        ...(options.agent ? { agent: options.agent } : {}),
      });
    } catch (err) {
      if (err instanceof SpendguardError) {
        throw new ConfigError(`${err.message} ${err.hint ?? ""}`.trim());
      }
      throw err;
    }
    const guard = await Guard.open({
      policy,
      store,
      sessionId: session.id,
      stripe,
      home: env.home,
      tools: TOOLS,
      transport: "stdio",
      readOnly: options.readOnly,
      logger,
      ...(alerts ? { afterCall: () => alerts.afterCall() } : {}),
    });
    logger.info(
      {
        session: session.id,
        agent: session.agent,
        policy: policy.name,
        tools: guard.listTools().map((t) => t.name),
      },
      "session started",
    );
    // Unknown outcomes left by an earlier crash are settled before this agent spends.
    const takeover = new Takeover(session.agent, () => guard.reconcile(), logger);
    await takeover.firstPass;
    const guardSession: GuardSession = { guard, sessionId: session.id, keyId: null };
    const sealer = new RequestStateSealer();
    await serveStdio(() => createServer({ session: async () => guardSession, sealer }));
    await endSession(store, session.id, "stdio client disconnected");
    logger.info({ session: session.id }, "session ended");
    takeover.stop();
    await heartbeat.stop();
    await watched.close();
    return 0;
  } finally {
    await sandbox?.close();
  }
}

/** `--operator` over stdio: the control tools, no Stripe. */
async function serveOperatorStdio(env: Environment, logger: Logger): Promise<number> {
  const store = await openStore(env);
  const sessionId = newOperatorSessionId();
  logger.info({ session: sessionId, home: env.home }, "operator session started");
  await serveStdio(() =>
    createOperatorServer({ store, home: env.home, sessionId, operator: "operator:stdio", logger }),
  );
  logger.info({ session: sessionId }, "operator session ended");
  await store.close();
  return 0;
}

interface HttpFlags {
  host: string;
  publicUrl: URL | undefined;
  accessTokenTtlMs: number;
  port: number;
  allowedOrigins: string[];
  allowedHosts: string[];
  idleTimeoutMs: number;
  emptyIdleTimeoutMs: number;
  rateLimit: number;
  sandbox: boolean;
  readOnly: boolean;
  allowSecretKey: boolean;
  alertsFile: string | undefined;
  metricsToken: string | null;
  env: NodeJS.ProcessEnv;
}

/** HTTP: every key's sessions in one process; resolves once a signal has stopped it. */
async function serveOverHttp(env: Environment, logger: Logger, flags: HttpFlags): Promise<number> {
  const watched = await watchStore(() => openStore(env), {
    alertsFile: flags.alertsFile,
    env: flags.env,
    metrics: true,
    logger,
  });
  const { store, alerts, metrics } = watched;
  const heartbeat = await Heartbeat.start(store, logger);
  const sandbox = flags.sandbox ? await startHomeSandbox(env.home, logger) : undefined;
  try {
    if (sandbox) noteSandboxSessions(store, env.home);
    const onRequest = (ms: number, status: number | null) => metrics?.stripeRequest(ms, status);
    const upstream = upstreamOf(sandbox, env, flags.allowSecretKey, logger, onRequest);
    const opener = new SessionOpener({
      store,
      home: env.home,
      upstream,
      tools: TOOLS,
      readOnly: flags.readOnly,
      logger,
      ...(alerts ? { afterCall: () => alerts.afterCall() } : {}),
    });
    const operatorConsole = createConsole({
      store,
      home: env.home,
      logger,
      policyFiles: env.policyFile ? [env.policyFile] : [],
    });
    const authorization = createAuthorizationServer({
      store,
      logger,
      ...(flags.publicUrl ? { publicUrl: flags.publicUrl.origin } : {}),
      accessTokenTtlMs: flags.accessTokenTtlMs,
      consent: new ConsentPages({
        store,
        signIn: operatorConsole.signIn,
        tools: TOOLS,
        readyPolicies: join(PACKAGE_ROOT, "policies"),
        logger,
      }),
    });
    const checkKey = (token: string | undefined) =>
      checkApiKey(store, token, Date.now(), authorization.resources);
    const service = await serveHttp({
      host: flags.host,
      port: flags.port,
      allowedOrigins: flags.allowedOrigins,
      allowedHosts: flags.allowedHosts,
      idleTimeoutMs: flags.idleTimeoutMs,
      emptyIdleTimeoutMs: flags.emptyIdleTimeoutMs,
      rateLimit: flags.rateLimit,
      checkKey,
      routes: [
        operatorConsole.route,
        authorization.route,
        ...(metrics
          ? [
              metricsRoute(
                metricsEndpoint({ metrics, checkKey, token: flags.metricsToken, logger }),
              ),
            ]
          : []),
      ],
      challenge: (pathname) => authorization.challenge(pathname),
      keyUsable: async (keyId) => {
        const key = await store.getApiKey(keyId);
        return key !== undefined && keyStatus(key, Date.now()) === "active";
      },
      openSession: (key) => opener.open(key),
      modernServer: (key, toolCall) => opener.modernServer(key, toolCall),
      sweepModern: (now) => opener.sweep(now, flags.idleTimeoutMs, flags.emptyIdleTimeoutMs),
      endModern: (keyId, reason) => opener.endKeySessions(keyId, reason),
      settled: (timeoutMs) => opener.settled(timeoutMs),
      logger,
    });
    authorization.listeningAt(service.url);
    logger.info(
      {
        url: service.url,
        port: service.port,
        mcp: `${service.url}/mcp`,
        sse: `${service.url}/sse`,
        console: `${service.url}/console`,
        oauthIssuer: authorization.issuer,
      },
      "listening",
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    logger.info({ signal, callsUnderWay: opener.callsUnderWay }, "shutting down");
    operatorConsole.close();
    await service.close();
    opener.stopTakeovers();
    await heartbeat.stop();
    await watched.close();
    return 0;
  } finally {
    await sandbox?.close();
  }
}

/**
 * `--sandbox`: the built-in sandbox with the demo seed, its Stripe data kept beside the
 * ledger (`$SPENDGUARD_HOME/sandbox.json`), so the two agree across restarts.
 */
async function startHomeSandbox(home: string, logger: Logger): Promise<Sandbox> {
  try {
    const sandbox = await startSandbox({
      port: 0,
      seed: "demo",
      stateFile: sandboxStateFile(home),
      // An MCP client restarting the server may start the new one before the old has exited.
      stateLockWaitMs: 5_000,
    });
    logger.info({ state: sandbox.stateFile, restored: sandbox.restored }, "sandbox state");
    return sandbox;
  } catch (error) {
    if (error instanceof SandboxStateError) throw new ConfigError(stateProblem(error, home));
    throw error;
  }
}

function upstreamOf(
  sandbox: Sandbox | undefined,
  env: Environment,
  allowSecretKey: boolean,
  logger: Logger,
  onRequest?: RequestObserver,
): Upstream {
  return sandbox
    ? sandboxUpstream(sandbox, logger, onRequest)
    : stripeUpstream(env, allowSecretKey, logger, onRequest);
}

/** `/metrics` as one of the HTTP server's extra routes. */
function metricsRoute(
  answer: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): HttpRoute {
  return async (req, res, url) => {
    if (url.pathname !== "/metrics") return false;
    await answer(req, res);
    return true;
  };
}

function metricsToken(token: string | undefined): string | null {
  if (token === undefined) return null;
  if (token.length < MIN_METRICS_TOKEN) {
    throw new UsageError(`--metrics-token must be at least ${MIN_METRICS_TOKEN} characters`);
  }
  return token;
}

/** `--public-url`: an http(s) base URL, scheme, host and port only. */
function publicUrlFlag(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--public-url must be a URL such as https://spendguard.example.com, got '${text}'`,
    );
  }
  if (
    (url.protocol !== "https:" && url.protocol !== "http:") ||
    url.pathname !== "/" ||
    url.search ||
    url.hash ||
    url.username
  ) {
    throw new UsageError(
      `--public-url must be scheme, host and port only (https://spendguard.example.com), got '${text}'`,
    );
  }
  return url;
}

function parsePort(text: string): number {
  const port = parseCount("port", text);
  if (port > 65_535) throw new UsageError(`--port must be 0 to 65535, got '${text}'`);
  return port;
}

function positive(flag: string, text: string): number {
  const value = parseCount(flag, text);
  if (value === 0) throw new UsageError(`--${flag} must be at least 1`);
  return value;
}

function durationFlag(flag: string, text: string): number {
  if (!/^\d+[smhd]$/.test(text) || parseDuration(text) === 0) {
    throw new UsageError(`--${flag} must be a duration such as 90s, 30m or 8h, got '${text}'`);
  }
  return parseDuration(text);
}
