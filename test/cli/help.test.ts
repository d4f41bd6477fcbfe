import { describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";

/** Every command documents itself, and a mistake in flags is a usage error (exit 2). */

const COMMANDS = [
  "demo",
  "serve",
  "console",
  "sandbox",
  "keys",
  "sessions",
  "audit",
  "report",
  "admissions",
  "resolve",
  "kill",
  "resume",
  "approvals",
  "approve",
  "reject",
  "alerts",
  "scopes",
  "doctor",
  "migrate",
  "import-sqlite",
  "policy",
];

/** The operator commands (ours) that take flags first; `keys` takes an action first. */
const OPERATOR_COMMANDS = [
  "demo",
  "console",
  "sessions",
  "audit",
  "report",
  "admissions",
  "resolve",
  "kill",
  "resume",
  "approvals",
  "approve",
  "reject",
  "alerts",
  "scopes",
  "doctor",
  "migrate",
  "import-sqlite",
  "policy",
];

/** A flag no command has. */
const BOGUS = "--no-such-flag";

describe("spendguard --help", () => {
  it("lists every command with its summary", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const name of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^  ${name}\\s+\\S`, "m"));
  });

  it("an unknown command is a usage error that lists the commands", async () => {
    const run = await runCli(["refund-everything"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'refund-everything'");
    expect(run.stderr).toContain("audit");
  });

  it("every command has --help with its usage, options and exit codes", async () => {
    const runs = await Promise.all(COMMANDS.map((name) => runCli([name, "--help"])));
    runs.forEach((run, i) => {
      const name = COMMANDS[i];
      expect(run.code, name).toBe(0);
      expect(run.stdout, name).toMatch(new RegExp(`^Usage: spendguard ${name}`));
    });
    // The operator commands (ours) all state their exit codes.
    for (const name of ["keys", ...OPERATOR_COMMANDS]) {
      expect(runs[COMMANDS.indexOf(name)]?.stdout, name).toMatch(/Exit code: 0/);
    }
  });

  it("an unknown flag on every operator command is a usage error (2) with the usage", async () => {
    const names = OPERATOR_COMMANDS;
    const runs = await Promise.all(names.map((name) => runCli([name, BOGUS])));
    runs.forEach((run, i) => {
      expect(run.code, names[i]).toBe(2);
      expect(run.stderr, names[i]).toContain(`spendguard ${names[i]}: Unknown option '${BOGUS}'`);
      expect(run.stderr, names[i]).toContain(`Usage: spendguard ${names[i]}`);
      expect(run.stdout, names[i]).toBe("");
    });
  });

  it("bad flag values are usage errors that say what is expected", async () => {
    const cases: [string[], RegExp][] = [
      [["audit", "--decision", "maybe"], /--decision must be one of allow, deny, error/],
      [
        ["audit", "--since", "yesterday"],
        /--since must be a duration \(30m, 24h, 7d\) or an ISO date/,
      ],
      [["audit", "--limit", "ten"], /--limit must be a whole number/],
      [["audit", "--json", "--csv"], /give --json or --csv, not both/],
      [
        ["audit", "verify", "--tool", "x"],
        /audit verify checks the whole chain; it takes no --tool/,
      ],
      [["audit", "verfy"], /unexpected argument 'verfy' \(did you mean verify\?\)/],
      [["report", "--by", "color"], /--by must be one of agent, session, tool, day, customer/],
      [["report", "--since", "1h", "--until", "2h"], /--until must be later than --since/],
      [["sessions", "--state", "zombie"], /--state must be one of active, killed, expired, ended/],
      [["console", "--port", "70000"], /--port must be 0 to 65535/],
      [["kill"], /say what to kill: a SESSION_ID, --agent NAME or --all/],
      [["kill", "ses_a", "--all"], /say what to kill/],
      [["kill", "ses_a", "ses_b"], /give one session id, got 2/],
      [["alerts", "--state", "lost"], /--state must be one of pending, delivered, failed/],
      [["alerts", "resend"], /the only sub-command is test/],
      [["alerts", "test", "--json"], /alerts test takes no --json/],
      [["alerts", "test"], /no alerts file: pass --alerts FILE or set SPENDGUARD_ALERTS/],
      [["scopes"], /no policy: pass --policy FILE or set SPENDGUARD_POLICY/],
      [["scopes", "--policy", "x.yaml", "--sandbox"], /--sandbox only goes with --check-key/],
      [["policy"], /missing sub-command: check/],
      [["policy", "lint", "x.yaml"], /unknown sub-command 'lint'; expected check/],
      [["policy", "check"], /missing FILE/],
      [["import-sqlite"], /give the data directory to import \(PATH\)/],
    ];
    // A few at a time: two dozen Node processes at once thrash a 2-core machine.
    const runs: Awaited<ReturnType<typeof runCli>>[] = [];
    for (let i = 0; i < cases.length; i += 6) {
      runs.push(...(await Promise.all(cases.slice(i, i + 6).map(([args]) => runCli(args)))));
    }
    runs.forEach((run, i) => {
      const [args, message] = cases[i] ?? [[], /./];
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr, args.join(" ")).toMatch(message);
    });
  }, 90_000);
});
