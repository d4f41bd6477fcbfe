import type { CliCommand } from "../command.js";
import { admissionsCommand, resolveCommand } from "./admissions.js";
import { alertsCommand } from "./alerts.js";
import { approvalsCommand, approveCommand, rejectCommand } from "./approve.js";
import { auditCommand } from "./audit.js";
import { consoleCommand } from "./console.js";
import { demoCommand } from "./demo.js";
import { doctorCommand } from "./doctor.js";
import { importSqliteCommand } from "./import-sqlite.js";
import { keysCommand } from "./keys.js";
import { killCommand } from "./kill.js";
import { migrateCommand } from "./migrate.js";
import { policyCommand } from "./policy.js";
import { reportCommand } from "./report.js";
import { resumeCommand } from "./resume.js";
import { sandboxCommand } from "./sandbox.js";
import { scopesCommand } from "./scopes.js";
import { serveCommand } from "./serve.js";
import { sessionsCommand } from "./sessions.js";

/** Every `spendguard` sub-command, in the order `spendguard --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  demoCommand,
  serveCommand,
  consoleCommand,
  sandboxCommand,
  keysCommand,
  sessionsCommand,
  auditCommand,
  reportCommand,
  killCommand,
  resumeCommand,
  approvalsCommand,
  approveCommand,
  rejectCommand,
  admissionsCommand,
  resolveCommand,
  alertsCommand,
  scopesCommand,
  doctorCommand,
  migrateCommand,
  importSqliteCommand,
  policyCommand,
];
