import { resolve } from "node:path";
import { TOOLS } from "../../../tools/index.js";
import { ConfigError } from "../../errors.js";
import { createApiKey, keyStatus, revokeApiKey } from "../../keys/api-keys.js";
import { parseExpiry } from "../../keys/expiry.js";
import { type CreatedOAuthClient, createOAuthClientIdentity } from "../../keys/oauth-client.js";
import { OPERATOR_TOOLS } from "../../operator/tools/index.js";
import { loadPolicy } from "../../policy/load.js";
import { openSqliteStore } from "../../store/sqlite/store.js";
import type { ApiKeyRecord, OAuthClientRecord, Store } from "../../store/store.js";
import { HOME_FLAG, homeOf, parseFlags } from "../args.js";
import { type CliCommand, type CliIO, UsageError } from "../command.js";
import { withStore } from "../data.js";
import {
  formatTime,
  styleFor,
  table,
  terminalWidth,
  tolerateClosedPipe,
  wrapWords,
} from "../format.js";

const USAGE = `Usage: spendguard keys create --agent NAME --policy FILE [--oauth-client] [--expires 30d|ISO] [--json]
       spendguard keys create --operator [--name NAME] [--expires 30d|ISO] [--json]
       spendguard keys list [--json]
       spendguard keys clients [--json]
       spendguard keys revoke KEY_ID

Keys let HTTP clients in (\`spendguard serve --http\`), sent as the header
"Authorization: Bearer KEY". A key is printed once, when it is created: spendguard keeps
only its SHA-256 and names it by its id (key_…) everywhere else.

  create --agent NAME --policy FILE
                 an agent key (sg_agent_…): its sessions act as agent NAME under the
                 policy FILE (its absolute path is kept; the file is read again, and
                 must still be valid, whenever a session opens). The agent's caps per
                 day are counted per NAME, across all its sessions and keys.
  --oauth-client instead of a key, an OAuth client for the client_credentials grant
                 (agent frameworks that speak OAuth): a client id and secret, traded
                 at /token for access tokens that act as agent NAME under FILE
  create --operator [--name NAME]
                 an operator key (sg_op_…): opens an operator session with the
                 operator tools and no Stripe tool. NAME defaults to "operator".
                 The operator tools:
${wrapWords(
  OPERATOR_TOOLS.map((tool) => tool.name),
  "                   ",
)}
  --expires WHEN the key stops working after a duration (90m, 12h, 30d) or at an ISO
                 date/time (default: never)
  list           every identity: keys, OAuth grants an operator gave on the consent
                 page, and OAuth clients; id, kind, credential, name, status, created,
                 expiry and policy; never a secret
  clients        the OAuth clients known here: registered (RFC 7591, from which
                 address), by metadata document, or made with --oauth-client
  revoke KEY_ID  refuses the key (or the grant's or client's access tokens) from its
                 next request on (401), in every server using this data directory,
                 those of sessions already open included
  --json         JSON instead of text (create: the key is in the "key" field)
  --home DIR     data directory (default: SPENDGUARD_HOME, else ~/.spendguard)

Exit code: 0 done, 1 a failure (unknown key id, invalid policy, no database), 2 usage.
`;

export const keysCommand: CliCommand = {
  name: "keys",
  summary: "create, list and revoke the agent and operator keys of HTTP clients",
  usage: USAGE,
  async run(argv, io) {
    tolerateClosedPipe(io.stdout);
    const [action, ...rest] = argv;
    if (action === "create") return create(rest, io);
    if (action === "list") return list(rest, io);
    if (action === "revoke") return revoke(rest, io);
    if (action === "clients") return clients(rest, io);
    throw new UsageError(
      action === undefined
        ? "say what to do: create, list, clients or revoke"
        : `unknown action '${action}': create, list, clients or revoke`,
    );
  },
};

async function create(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, {
    ...HOME_FLAG,
    agent: { type: "string" },
    policy: { type: "string" },
    operator: { type: "boolean" },
    name: { type: "string" },
    expires: { type: "string" },
    "oauth-client": { type: "boolean" },
    json: { type: "boolean" },
  });
  const operator = values.operator === true;
  if (operator && values["oauth-client"]) {
    throw new UsageError("--oauth-client makes an agent's client: use it with --agent NAME");
  }
  if (operator === (values.agent !== undefined)) {
    throw new UsageError("give either --agent NAME (with --policy FILE) or --operator");
  }
  if (operator && values.policy !== undefined) {
    throw new UsageError("an operator key has no policy: drop --policy");
  }
  if (!operator && values.policy === undefined) {
    throw new UsageError("an agent key needs its policy: --policy FILE");
  }
  if (!operator && values.name !== undefined) {
    throw new UsageError("--name is for operator keys; an agent key is named by --agent");
  }
  const now = Date.now();
  const expiresAt = values.expires === undefined ? null : expiryFlag(values.expires, now);
  const policyFile = values.policy === undefined ? null : resolve(values.policy);
  // Refused now rather than at the agent's first request.
  const policy = policyFile === null ? null : loadPolicy(policyFile, TOOLS);
  const name = operator ? (values.name ?? "operator") : (values.agent ?? "");

  const store = openSqliteStore(homeOf(values.home, io.env));
  try {
    const others = operator ? [] : await otherAgentKeys(store, name, now);
    if (values["oauth-client"] && policy && policyFile) {
      const created = await createOAuthClientIdentity(store, { name, policyFile, expiresAt, now });
      io.stdout.write(oauthClientCreated(created, policy.name, others, now, values.json, io));
      return 0;
    }
    const { record, key } = await createApiKey(store, {
      kind: operator ? "operator" : "agent",
      name,
      policyFile,
      expiresAt,
      now,
    });
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ ...publicView(record, now), policy: policy?.name ?? null, key }, null, 2)}\n`,
      );
      return 0;
    }
    const style = styleFor(io.stdout, io.env);
    const lines = [
      operator
        ? `Created operator key ${record.id} for '${name}': it opens operator sessions (control tools, no Stripe tool).`
        : `Created agent key ${record.id} for agent '${name}'.`,
      ...(policy ? [`  policy:  ${policy.name} (${policyFile})`] : []),
      `  expires: ${expiresAt === null ? "never" : `${formatTime(expiresAt)} UTC`}`,
      ...others.map(
        (other) =>
          `  note:    agent '${name}' also has key ${other.id} (${other.policy_file}); every key of an agent shares its caps per day.`,
      ),
      "",
      "The key, shown this once (spendguard keeps only its hash):",
      "",
      `  ${style.bold(key)}`,
      "",
      `HTTP clients send it as the header: Authorization: Bearer ${key.slice(0, 12)}…`,
      `Revoke it with: spendguard keys revoke ${record.id}`,
      "",
    ];
    io.stdout.write(lines.join("\n"));
    return 0;
  } finally {
    await store.close();
  }
}

function oauthClientCreated(
  created: CreatedOAuthClient,
  policyName: string,
  others: readonly ApiKeyRecord[],
  now: number,
  json: boolean | undefined,
  io: CliIO,
): string {
  const { record, client, clientSecret } = created;
  if (json) {
    return `${JSON.stringify(
      {
        ...publicView(record, now),
        policy: policyName,
        client_id: client.id,
        client_secret: clientSecret,
      },
      null,
      2,
    )}\n`;
  }
  const style = styleFor(io.stdout, io.env);
  return [
    `Created OAuth client ${record.id} for agent '${record.name}' (client_credentials).`,
    `  policy:    ${policyName} (${record.policy_file})`,
    `  expires:   ${record.expires_at === null ? "never" : `${formatTime(record.expires_at)} UTC`}`,
    ...others.map(
      (other) =>
        `  note:      agent '${record.name}' also has ${other.id}; every key of an agent shares its caps per day.`,
    ),
    `  client_id: ${client.id}`,
    "",
    "The client secret, shown this once (spendguard keeps only its hash):",
    "",
    `  ${style.bold(clientSecret)}`,
    "",
    "The agent framework trades them for access tokens (1 h) at the token endpoint:",
    "POST /token with grant_type=client_credentials and HTTP Basic client_id:client_secret;",
    "discovery: /.well-known/oauth-authorization-server.",
    `Revoke it with: spendguard keys revoke ${record.id}`,
    "",
  ].join("\n");
}

async function clients(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { ...HOME_FLAG, json: { type: "boolean" } });
  const now = Date.now();
  const { known, identities } = await withStore(homeOf(values.home, io.env), async (store) => ({
    known: await store.listOAuthClients(),
    identities: (await store.listApiKeys()).filter((k) => k.oauth_client !== null),
  }));
  const grantsOf = (clientId: string) =>
    identities.filter((k) => k.oauth_client === clientId && keyStatus(k, now) === "active").length;
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  if (values.json) {
    const rows = known.map((c) => ({
      client_id: c.id,
      registration: c.registration,
      name: c.name,
      redirect_uris: JSON.parse(c.redirect_uris) as string[],
      grant_types: JSON.parse(c.grant_types) as string[],
      token_endpoint_auth_method: c.auth_method,
      registered_by: c.registered_by,
      created_at: iso(c.created_at),
      active_identities: grantsOf(c.id),
    }));
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (known.length === 0) {
    io.stdout.write(
      "No OAuth clients yet: hosted clients register when they first connect (serve --http); `spendguard keys create --agent NAME --policy FILE --oauth-client` makes one for client_credentials.\n",
    );
    return 0;
  }
  const style = styleFor(io.stdout, io.env);
  const rows = known.map((c) => [
    c.id,
    REGISTRATION[c.registration],
    c.name,
    (JSON.parse(c.redirect_uris) as string[]).map((uri) => new URL(uri).host).join(" ") || "-",
    c.registered_by ?? "",
    formatTime(c.created_at),
    String(grantsOf(c.id)),
  ]);
  const width = terminalWidth(io.stdout);
  io.stdout.write(
    table(
      ["CLIENT ID", "REGISTERED", "NAME", "REDIRECTS TO", "BY", "CREATED (UTC)", "ACTIVE GRANTS"],
      rows,
      { header: style.bold, ...(width ? { maxWidth: width } : {}) },
    ),
  );
  return 0;
}

const REGISTRATION: Record<OAuthClientRecord["registration"], string> = {
  dynamic: "dynamic",
  metadata_document: "metadata doc",
  operator: "operator",
};

const CREDENTIAL: Record<ApiKeyRecord["credential"], string> = {
  key: "key",
  oauth_grant: "oauth grant",
  oauth_client: "oauth client",
};

async function list(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { ...HOME_FLAG, json: { type: "boolean" } });
  const now = Date.now();
  const keys = await withStore(
    homeOf(values.home, io.env),
    async (store) => await store.listApiKeys(),
  );
  if (values.json) {
    io.stdout.write(
      `${JSON.stringify(
        keys.map((k) => publicView(k, now)),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  if (keys.length === 0) {
    io.stdout.write(
      "No keys yet: `spendguard keys create --agent NAME --policy FILE` makes one.\n",
    );
    return 0;
  }
  const style = styleFor(io.stdout, io.env);
  const rows = keys.map((k) => {
    const status = keyStatus(k, now);
    const shown =
      status === "revoked" && k.revoked_at !== null
        ? `revoked ${formatTime(k.revoked_at)}${k.revoked_reason ? ` (${k.revoked_reason})` : ""}`
        : status;
    return [
      k.id,
      k.kind,
      CREDENTIAL[k.credential],
      k.name,
      shown,
      formatTime(k.created_at),
      k.expires_at === null ? "never" : formatTime(k.expires_at),
      k.policy_file ?? "",
    ];
  });
  const width = terminalWidth(io.stdout);
  io.stdout.write(
    table(
      [
        "ID",
        "KIND",
        "CREDENTIAL",
        "NAME",
        "STATUS",
        "CREATED (UTC)",
        "EXPIRES (UTC)",
        "POLICY FILE",
      ],
      rows,
      {
        header: style.bold,
        paint: (text, row, column) =>
          column !== 4
            ? text
            : keyStatus(keys[row] as ApiKeyRecord, now) === "active"
              ? style.green(text)
              : style.red(text),
        ...(width ? { maxWidth: width } : {}),
      },
    ),
  );
  return 0;
}

async function revoke(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, HOME_FLAG, { positionals: true });
  if (positionals.length !== 1 || !positionals[0]) {
    throw new UsageError("give the id of one key (key_…), as `spendguard keys list` shows it");
  }
  const id = positionals[0];
  const { record, changed } = await withStore(
    homeOf(values.home, io.env),
    async (store) => await revokeApiKey(store, id),
  );
  const who = record.kind === "agent" ? `agent '${record.name}'` : `operator '${record.name}'`;
  const what = { key: "key", oauth_grant: "OAuth grant", oauth_client: "OAuth client" }[
    record.credential
  ];
  const presenting =
    record.credential === "key" ? "presenting it" : "with an access token issued under it";
  io.stdout.write(
    changed
      ? `Revoked ${what} ${record.id} (${who}): every request ${presenting} is refused (401) from now on, those of its open sessions included.\n`
      : `Key ${record.id} (${who}) was already revoked${record.revoked_at === null ? "" : ` at ${formatTime(record.revoked_at)} UTC`}: nothing to do.\n`,
  );
  return 0;
}

/** `--expires`: what `parseExpiry` reads, as a usage mistake when it cannot. */
function expiryFlag(text: string, now: number): number | null {
  try {
    return parseExpiry(text, now);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--expires ${error.message}`);
    throw error;
  }
}

/** Other usable keys of the same agent: worth a note, since they share its daily caps. */
async function otherAgentKeys(store: Store, agent: string, now: number): Promise<ApiKeyRecord[]> {
  return (await store.listApiKeys()).filter(
    (k) => k.kind === "agent" && k.name === agent && keyStatus(k, now) === "active",
  );
}

/** A key as `list --json` shows it: no hash, times in ISO, and its status. */
function publicView(key: ApiKeyRecord, now: number) {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return {
    id: key.id,
    kind: key.kind,
    name: key.name,
    policy_file: key.policy_file,
    status: keyStatus(key, now),
    created_at: iso(key.created_at),
    expires_at: iso(key.expires_at),
    revoked_at: iso(key.revoked_at),
    credential: key.credential,
    oauth_client: key.oauth_client,
    revoked_reason: key.revoked_reason,
  };
}
