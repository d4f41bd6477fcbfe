import { resolve } from "node:path";
import { TOOLS } from "../../../tools/index.js";
import { ConfigError } from "../../errors.js";
import { createApiKey, keyStatus, revokeApiKey } from "../../keys/api-keys.js";
import { OPERATOR_TOOLS } from "../../operator/tools/index.js";
import { loadPolicy, parseDuration } from "../../policy/load.js";
import { openSqliteStore } from "../../store/sqlite/store.js";
import type { ApiKeyRecord, Store } from "../../store/store.js";
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

const USAGE = `Usage: spendguard keys create --agent NAME --policy FILE [--expires 30d|ISO] [--json]
       spendguard keys create --operator [--name NAME] [--expires 30d|ISO] [--json]
       spendguard keys list [--json]
       spendguard keys revoke KEY_ID

Keys let HTTP clients in (\`spendguard serve --http\`), sent as the header
"Authorization: Bearer KEY". A key is printed once, when it is created: spendguard keeps
only its SHA-256 and names it by its id (key_…) everywhere else.

  create --agent NAME --policy FILE
                 an agent key (sg_agent_…): its sessions act as agent NAME under the
                 policy FILE (its absolute path is kept; the file is read again, and
                 must still be valid, whenever a session opens). The agent's caps per
                 day are counted per NAME, across all its sessions and keys.
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
  list           every key: id, kind, name, policy, created, expiry and status; never a
                 secret
  revoke KEY_ID  refuses the key from its next request on (401), in every server using
                 this data directory, those of sessions already open included
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
    throw new UsageError(
      action === undefined
        ? "say what to do: create, list or revoke"
        : `unknown action '${action}': create, list or revoke`,
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
    json: { type: "boolean" },
  });
  const operator = values.operator === true;
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
  const expiresAt = values.expires === undefined ? null : parseExpiry(values.expires, now);
  const policyFile = values.policy === undefined ? null : resolve(values.policy);
  // Refused now rather than at the agent's first request.
  const policy = policyFile === null ? null : loadPolicy(policyFile, TOOLS);
  const name = operator ? (values.name ?? "operator") : (values.agent ?? "");

  const store = openSqliteStore(homeOf(values.home, io.env));
  try {
    const others = operator ? [] : otherAgentKeys(store, name, now);
    const { record, key } = createApiKey(store, {
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
    store.close();
  }
}

async function list(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { ...HOME_FLAG, json: { type: "boolean" } });
  const now = Date.now();
  const keys = await withStore(homeOf(values.home, io.env), (store) => store.listApiKeys());
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
        ? `revoked ${formatTime(k.revoked_at)}`
        : status;
    return [
      k.id,
      k.kind,
      k.name,
      shown,
      formatTime(k.created_at),
      k.expires_at === null ? "never" : formatTime(k.expires_at),
      k.policy_file ?? "",
    ];
  });
  const width = terminalWidth(io.stdout);
  io.stdout.write(
    table(["ID", "KIND", "NAME", "STATUS", "CREATED (UTC)", "EXPIRES (UTC)", "POLICY FILE"], rows, {
      header: style.bold,
      paint: (text, row, column) =>
        column !== 3
          ? text
          : keyStatus(keys[row] as ApiKeyRecord, now) === "active"
            ? style.green(text)
            : style.red(text),
      ...(width ? { maxWidth: width } : {}),
    }),
  );
  return 0;
}

async function revoke(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, HOME_FLAG, { positionals: true });
  if (positionals.length !== 1 || !positionals[0]) {
    throw new UsageError("give the id of one key (key_…), as `spendguard keys list` shows it");
  }
  const id = positionals[0];
  const { record, changed } = await withStore(homeOf(values.home, io.env), (store) =>
    revokeApiKey(store, id),
  );
  const who = record.kind === "agent" ? `agent '${record.name}'` : `operator '${record.name}'`;
  io.stdout.write(
    changed
      ? `Revoked key ${record.id} (${who}): every request presenting it is refused (401) from now on, those of its open sessions included.\n`
      : `Key ${record.id} (${who}) was already revoked${record.revoked_at === null ? "" : ` at ${formatTime(record.revoked_at)} UTC`}: nothing to do.\n`,
  );
  return 0;
}

/** A duration from now (`30d`) or an ISO date/time, which must lie ahead. */
function parseExpiry(text: string, now: number): number {
  let at: number;
  if (/^\d+[smhd]$/.test(text)) {
    try {
      at = now + parseDuration(text);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`--expires: ${error.message}`);
      throw error;
    }
  } else {
    at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new UsageError(
        `--expires must be a duration (12h, 30d) or an ISO date (2026-12-31, 2026-12-31T18:00:00Z), got '${text}'`,
      );
    }
  }
  if (at <= now) throw new UsageError(`--expires must lie in the future, got '${text}'`);
  return at;
}

/** Other usable keys of the same agent: worth a note, since they share its daily caps. */
function otherAgentKeys(store: Store, agent: string, now: number): ApiKeyRecord[] {
  return store
    .listApiKeys()
    .filter((k) => k.kind === "agent" && k.name === agent && keyStatus(k, now) === "active");
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
  };
}
