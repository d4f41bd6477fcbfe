import type Stripe from "stripe";
import type { z } from "zod";
import type {
  AnySessionTool,
  AnyStripeTool,
  AnyTool,
  Resolution,
  ToolContext,
  ToolResult,
} from "../../tools/tool.js";
import { type ApprovalCall, ApprovalGate, type AskHuman } from "../approvals/gate.js";
import {
  type ApprovalPaths,
  approvalPaths,
  decisionPath,
  type SessionTransport,
} from "../approvals/via.js";
import { canonicalJson } from "../audit/canonical.js";
import { redactValue } from "../audit/redact.js";
import { redactError } from "../audit/redact-error.js";
import { SpendguardError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { type CallCharge, settledCap } from "../money/charge.js";
import { capsLeftLine } from "../policy/caps-left.js";
import type { Denial } from "../policy/decision.js";
import type { LoadedPolicy } from "../policy/load.js";
import { inScope } from "../policy/scope.js";
import type {
  Admission,
  AdmissionRequest,
  ApprovalRecord,
  AuditDecision,
  AuditEntry,
  AuditOutcome,
  SessionRecord,
  Settlement,
  Store,
} from "../store/store.js";
import { mayHaveBeenApplied, watchSending } from "../stripe/attempts.js";
import {
  agentInputSchema,
  agentOutputSchema,
  describeInvalidArguments,
  forbiddenArgumentName,
  malformedTextAt,
  quoteName,
  type SpendguardBlock,
  withoutNullOptionals,
} from "./agent-schemas.js";
import { type CallIdentity, CallTrail } from "./call-trail.js";
import {
  type CallFacts,
  checkScope,
  checkSession,
  checkToolAllowed,
  decideAfterResolve,
  decideBeforeResolve,
  decideCaps,
  type SessionFacts,
} from "./decide.js";
import { type CallFailure, failedBeforeSending, failureOf } from "./failures.js";
import { attemptKey, idempotencyKey } from "./idempotency.js";
import { type KillFlag, readKillFlag } from "./kill.js";
import { type CallOutcome, errorOutcome } from "./outcome.js";
import { thisOwner } from "./owner.js";
import { type ReconcileReport, ReconciliationEntries, reconcileAdmissions } from "./reconcile.js";
import { recordResult } from "./recorded.js";
import { type AdmissionBase, type RepeatSteps, repeatedCall } from "./repeat.js";
import { sessionControl } from "./session-control.js";

export type { CallOutcome } from "./outcome.js";
export type { ReconcileReport } from "./reconcile.js";

export interface GuardOptions {
  policy: LoadedPolicy;
  store: Store;
  sessionId: string;
  stripe: Stripe;
  /** SPENDGUARD_HOME, for kill flags. */
  home: string;
  /** The tool registry; the guard filters it by policy. */
  tools: readonly AnyTool[];
  /** The session's transport: it decides who may approve unless the policy does. */
  transport: SessionTransport;
  /** `serve --read-only`: write tools are neither listed nor callable. */
  readOnly?: boolean;
  /** ms since the epoch; injectable for tests. */
  clock?: () => number;
  logger?: Logger;
  /**
   * Runs after each call's audit rows are written and before its answer goes back, so
   * what it does (an alert rule pausing the agent) applies from the very next call.
   * Its failures are logged, never the agent's.
   */
  afterCall?: () => Promise<void>;
}

export interface CallOptions {
  /** Asks the user through their MCP client (elicitation); absent when it cannot. */
  askHuman?: AskHuman | undefined;
}

/**
 * The pipeline every tool call passes: tool offered? → schema → session (killed?
 * expired?) → policy (account, parameters) → what Stripe says (customer, money) → scope,
 * then anything else about the object → rules → caps, reserved atomically → kill
 * re-check → the tool → settlement → one audit row. It never throws for anything an agent
 * sends: refusals and failures are values.
 */
export class Guard {
  private readonly policy: LoadedPolicy;
  private readonly store: Store;
  private readonly sessionId: string;
  private readonly agent: string;
  private readonly stripe: Stripe;
  private readonly home: string;
  private readonly registry: ReadonlyMap<string, AnyTool>;
  private readonly readOnly: boolean;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly afterCall: (() => Promise<void>) | undefined;
  private readonly inputSchemas = new Map<string, z.ZodObject>();
  private readonly outputSchemas = new Map<string, z.ZodObject>();
  private readonly identity: CallIdentity;
  private readonly approvals: ApprovalGate;
  private readonly reconciliation: ReconciliationEntries;
  private readonly approvalPaths: ApprovalPaths;
  private readonly repeatSteps: RepeatSteps;

  /** A guard for an existing session, which must have been started under this very policy. */
  static async open(options: GuardOptions): Promise<Guard> {
    return new Guard(options, await Guard.sessionFor(options));
  }

  /** The session a guard will serve: it must exist, under this very policy. */
  protected static async sessionFor(options: GuardOptions): Promise<SessionRecord> {
    const session = await options.store.getSession(options.sessionId);
    if (!session)
      throw new Error(`guard: session ${options.sessionId} does not exist (startSession first)`);
    if (session.policy_hash !== options.policy.hash) {
      throw new Error(
        `guard: session ${options.sessionId} was started under another version of the policy`,
      );
    }
    return session;
  }

  protected constructor(options: GuardOptions, session: SessionRecord) {
    this.policy = options.policy;
    this.store = options.store;
    this.sessionId = options.sessionId;
    this.stripe = options.stripe;
    this.home = options.home;
    this.registry = new Map(options.tools.map((tool) => [tool.name, tool]));
    this.readOnly = options.readOnly ?? false;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.afterCall = options.afterCall;
    this.agent = session.agent;
    this.identity = {
      session: this.sessionId,
      agent: this.agent,
      capCurrency: this.policy.caps.currency,
    };
    this.reconciliation = new ReconciliationEntries(this.policy.caps.currency, this.clock);
    this.approvalPaths = approvalPaths(this.policy.policy.approval_via, options.transport);
    this.approvals = new ApprovalGate({
      store: this.store,
      policy: this.policy,
      session: this.sessionId,
      agent: this.agent,
      clock: this.clock,
      paths: this.approvalPaths,
    });
    this.repeatSteps = {
      store: this.store,
      policy: this.policy,
      reconciliation: this.reconciliation,
      admissionBase: (...args) => this.admissionBase(...args),
      denied: (trail, decision) => this.denied(trail, decision),
      killedBeforeSending: (...args) => this.killedBeforeSending(...args),
      logFailure: (...args) => this.logFailure(...args),
      failureEntry: (...args) => this.failureEntry(...args),
      settlementOf: (...args) => this.settlementOf(...args),
      succeeded: (...args) => this.succeeded(...args),
    };
  }

  /** Whether this session's MCP client may say yes (so the server should offer to ask it). */
  get clientMayApprove(): boolean {
    return this.approvalPaths.client;
  }

  /** Tools this session may see: in the policy (and read-only if set). Session tools always. */
  listTools(): AnyTool[] {
    return [...this.registry.values()].filter(
      (tool) =>
        tool.kind === "session" ||
        (tool.name in this.policy.policy.tools && !(this.readOnly && tool.kind === "write")),
    );
  }

  /** Input schema as the agent sees it (strict, plus `stripe_account` when accounts are listed). */
  inputSchemaFor(tool: AnyTool): z.ZodObject {
    let schema = this.inputSchemas.get(tool.name);
    if (!schema) {
      schema = agentInputSchema(tool, this.policy.policy.connected_accounts);
      this.inputSchemas.set(tool.name, schema);
    }
    return schema;
  }

  /** Output schema as the agent sees it (write tools add an optional `spendguard` block). */
  outputSchemaFor(tool: AnyTool): z.ZodObject {
    let schema = this.outputSchemas.get(tool.name);
    if (!schema) {
      schema = agentOutputSchema(tool);
      this.outputSchemas.set(tool.name, schema);
    }
    return schema;
  }

  /** Never throws for anything an agent can send; every call is exactly one audit row. */
  async call(toolName: string, rawArgs: unknown, options: CallOptions = {}): Promise<CallOutcome> {
    const trail = new CallTrail(this.identity, toolName, rawArgs, this.clock());
    let outcome: CallOutcome;
    try {
      outcome = await this.run(trail, toolName, rawArgs, options);
    } catch (err) {
      outcome = await this.crashed(trail, err);
    }
    if (this.afterCall) {
      try {
        await this.afterCall();
      } catch (err) {
        this.logger.error({ err: redactError(err), session: this.sessionId }, "afterCall failed");
      }
    }
    return outcome;
  }

  /**
   * Settles or releases this agent's admissions whose outcome is not known (in state
   * `unknown`, or `reserved` by a process that is gone) by replaying them with their
   * idempotency key. Called at server start; each one resolved is its own audit row.
   */
  reconcile(): Promise<ReconcileReport> {
    return reconcileAdmissions({
      store: this.store,
      stripe: this.stripe,
      policy: this.policy,
      home: this.home,
      agent: this.agent,
      tools: this.registry,
      readOnly: this.readOnly,
      clock: this.clock,
      logger: this.logger,
    });
  }

  // -------------------------------------------------------------------------------------

  private async run(
    trail: CallTrail,
    toolName: string,
    rawArgs: unknown,
    options: CallOptions,
  ): Promise<CallOutcome> {
    const tool = this.registry.get(toolName);
    if (!tool) {
      const names = this.listTools().map((t) => t.name);
      return this.refuse(
        trail,
        "error",
        "invalid",
        new SpendguardError(
          "unknown_tool",
          `Unknown tool ${quoteName(toolName)}.`,
          `Tools available in this session: ${names.join(", ")}.`,
        ),
      );
    }
    // Before its arguments are looked at: a tool not offered never reveals its schema.
    const notOffered = checkToolAllowed(this.policy, tool, this.readOnly);
    if (notOffered) return this.denied(trail, notOffered);
    const forbidden = forbiddenArgumentName(rawArgs);
    if (forbidden !== undefined) {
      return this.refuse(
        trail,
        "error",
        "invalid",
        new SpendguardError(
          "invalid_input",
          `Invalid arguments for ${tool.name}: an argument may not be named ${quoteName(forbidden)}.`,
          "Nothing was done. Fix the arguments and call again.",
        ),
      );
    }
    const malformed = malformedTextAt(rawArgs);
    if (malformed !== undefined) {
      return this.refuse(
        trail,
        "error",
        "invalid",
        new SpendguardError(
          "invalid_input",
          `Invalid arguments for ${tool.name}: ${malformed}: text that is not well-formed Unicode (a lone UTF-16 surrogate).`,
          "Nothing was done. Fix the text and call again.",
        ),
      );
    }
    const schema = this.inputSchemaFor(tool);
    const given = withoutNullOptionals(schema, rawArgs ?? {});
    const parsed = schema.safeParse(given);
    if (!parsed.success) {
      return this.refuse(
        trail,
        "error",
        "invalid",
        new SpendguardError(
          "invalid_input",
          describeInvalidArguments(tool.name, schema, parsed.error),
          "Nothing was done. Fix the arguments and call again.",
        ),
      );
    }
    const { stripe_account, ...args } = parsed.data as Record<string, unknown>;
    const facts: CallFacts = {
      policy: this.policy,
      tool,
      args,
      account: typeof stripe_account === "string" ? stripe_account : null,
      ...(await this.readSession(trail.now)),
      now: trail.now,
      readOnly: this.readOnly,
    };
    const denied = decideBeforeResolve(facts);
    if (denied) return this.denied(trail, denied);
    if (tool.kind === "session") return this.runSessionTool(trail, tool, args);
    return this.runStripeTool(trail, tool, facts, rawToolArgs(given), options.askHuman);
  }

  private async runSessionTool(
    trail: CallTrail,
    tool: AnySessionTool,
    args: Record<string, unknown>,
  ): Promise<CallOutcome> {
    const control = sessionControl({
      store: this.store,
      policy: this.policy,
      sessionId: this.sessionId,
      toolNames: () => this.listTools().map((t) => t.name),
      clock: this.clock,
    });
    const result: ToolResult<Record<string, unknown>> = await tool.handle(control, args);
    await this.append(
      trail,
      trail.entry("allow", "ok", null, "session", "session tools are always available"),
    );
    return { ok: true, output: result.output, text: result.text };
  }

  private async runStripeTool(
    trail: CallTrail,
    tool: AnyStripeTool,
    facts: CallFacts,
    replayArgs: Record<string, unknown>,
    askHuman: AskHuman | undefined,
  ): Promise<CallOutcome> {
    const ctx: ToolContext = {
      stripe: this.stripe,
      requestOptions: facts.account ? { stripeAccount: facts.account } : {},
      pii: this.policy.policy.pii,
    };
    let resolution: Resolution<unknown>;
    try {
      resolution = await tool.resolve(ctx, facts.args);
    } catch (err) {
      const failure = failureOf(err, "read");
      if (failure.unexpected) throw err;
      trail.stripeRequestId = failure.stripeRequestId;
      return this.refuse(trail, "error", "failed", failure.error);
    }
    trail.customer = resolution.customer?.id ?? null;
    // What the tool found wrong with the object is told only once scope has passed.
    const outOfScope = checkScope(facts, resolution.customer);
    if (outOfScope) return this.denied(trail, outOfScope);
    if (resolution.refusal) return this.refuse(trail, "error", "failed", resolution.refusal);
    const after = decideAfterResolve(facts, resolution);
    if ("decision" in after) return this.denied(trail, after.decision);
    const charge = after.charge;
    trail.charge = charge;

    if (tool.kind === "write") {
      const callKey = idempotencyKey(this.sessionId, tool.name, facts.account, facts.args);
      const history = await this.store.findCall(callKey);
      if (history.standing) {
        const answer = await repeatedCall(
          this.repeatSteps,
          trail,
          tool,
          facts,
          ctx,
          resolution,
          history.standing,
        );
        if (answer) return answer;
      }
      trail.callKey = callKey;
      // A repeat that found no answer may have released its admission: count again then.
      const { attempts } = history.standing ? await this.store.findCall(callKey) : history;
      trail.idempotencyKey = attemptKey(callKey, attempts);
    }

    // A person's yes before anything else is counted or sent; the caps still apply after it.
    let approval: GrantedApproval | null = null;
    if (after.approval) {
      const call: ApprovalCall = {
        now: facts.now,
        account: facts.account,
        args: facts.args,
        tool,
        charge,
        customer: resolution.customer,
        need: after.approval,
        auditArgs: trail.args,
        checkCaps: (usage) => decideCaps(facts, charge, resolution.customer !== null, usage),
      };
      const gate = await this.approvals.obtain(call, askHuman);
      if ("refused" in gate) return this.denied(trail, gate.refused, gate.hint);
      approval = { call, record: gate.granted };
      trail.approval = gate.granted;
    }

    const request: AdmissionRequest = {
      ...this.admissionBase(trail, tool, facts, replayArgs),
      call_key: trail.callKey,
      idempotency_key: trail.idempotencyKey,
      repeat_of: null,
      amount: charge.moves?.amount ?? 0,
      currency: charge.moves?.currency ?? null,
      amount_cap: charge.amountCap,
      revenue_at_risk_cap: charge.revenueAtRiskCap,
      cancellation: charge.cancellation,
    };
    const admitted = await this.store.admit<Denial>(
      request,
      (usage) => decideCaps(facts, charge, resolution.customer !== null, usage),
      approval ? this.approvals.use(approval.call, approval.record) : undefined,
    );
    if (!admitted.admitted) return this.denied(trail, admitted.decision);
    const admission = admitted.admission;
    trail.admission = admission;

    if (tool.kind === "write") {
      // The last moment to stop it: a kill that landed while Stripe was being read.
      const killed = await this.killedBeforeSending(trail, admission);
      if (killed) return killed;
    }

    const handleCtx: ToolContext =
      tool.kind === "write"
        ? { ...ctx, idempotencyKey: trail.idempotencyKey ?? undefined, admission: admission.id }
        : ctx;
    let result: ToolResult<Record<string, unknown>>;
    trail.sent = true;
    const sending = trail.idempotencyKey ? watchSending(this.stripe, trail.idempotencyKey) : null;
    try {
      result = await tool.handle(handleCtx, facts.args, resolution, (customer) =>
        inScope(this.policy.policy.customers, customer),
      );
    } catch (err) {
      if (!sending?.nothingSent()) return await this.handleFailed(trail, tool, admission, err);
      // Nothing left for Stripe: a refusal that releases what was reserved.
      if (!(err instanceof SpendguardError)) this.logFailure(trail, err);
      return await this.handleFailed(trail, tool, admission, failedBeforeSending(err));
    } finally {
      sending?.stop();
    }
    const settlement = this.settlementOf(result, charge, tool.kind === "write");
    trail.settled(settlement, result.stripeRequestId);
    await this.store.settle(
      admission.id,
      settlement,
      trail.entry(
        "allow",
        "ok",
        null,
        "policy",
        trail.approval ? `allowed with approval ${approvedBy(trail.approval)}` : "allowed",
      ),
    );
    trail.closed();
    return this.succeeded(trail, tool, result, false);
  }

  /** A kill that landed while Stripe was being read: the admission is released, nothing sent. */
  private async killedBeforeSending(
    trail: CallTrail,
    admission: Admission,
  ): Promise<CallOutcome | null> {
    const killed = await this.sessionDenial();
    if (!killed) return null;
    await this.store.release(
      admission.id,
      trail.entry("deny", "denied", killed.code, killed.rule, killed.reason),
    );
    trail.closed();
    return { ok: false, code: killed.code, message: killed.reason };
  }

  /** What every admission of this call shares. */
  private admissionBase(
    trail: CallTrail,
    tool: AnyStripeTool,
    facts: CallFacts,
    replayArgs: Record<string, unknown>,
  ): AdmissionBase {
    const owner = thisOwner();
    return {
      session: this.sessionId,
      agent: this.agent,
      tool: tool.name,
      customer: trail.customer,
      args: canonicalJson(redactValue(replayArgs)),
      account: facts.account,
      owner_pid: owner.pid,
      owner_host: owner.host,
      owner_instance: owner.instance,
      created_at: trail.now,
    };
  }

  private async handleFailed(
    trail: CallTrail,
    tool: AnyStripeTool,
    admission: Admission,
    err: unknown,
  ): Promise<CallOutcome> {
    const key = trail.idempotencyKey;
    const failure = failureOf(err, tool.kind, key !== null && mayHaveBeenApplied(this.stripe, key));
    if (failure.unexpected) this.logFailure(trail, err);
    trail.stripeRequestId = failure.stripeRequestId;
    const entry = this.failureEntry(trail, failure);
    if (failure.applied === "unknown") await this.store.markUnknown(admission.id, entry);
    else await this.store.release(admission.id, entry);
    trail.closed();
    return errorOutcome(failure.error);
  }

  private failureEntry(trail: CallTrail, failure: CallFailure): AuditEntry {
    return trail.entry(
      "allow",
      failure.applied === "unknown" ? "unknown" : "failed",
      failure.error.code,
      "stripe",
      failure.error.message,
    );
  }

  /** `record`: keep the result, so a repeat can be answered from it (writes). */
  private settlementOf(
    result: ToolResult<Record<string, unknown>>,
    charge: CallCharge | null,
    record: boolean,
  ): Settlement {
    const moved = result.moved ?? charge?.moves ?? null;
    const reservedCap = charge?.amountCap ?? 0;
    const amountCap = moved ? settledCap(moved, reservedCap, this.policy.caps.fx) : 0;
    if (amountCap > reservedCap) {
      this.logger.warn(
        { session: this.sessionId, reserved: reservedCap, settled: amountCap },
        "Stripe reports more money moved than was reserved",
      );
    }
    return {
      amount: moved?.amount ?? 0,
      amount_cap: amountCap,
      stripe_request_id: result.stripeRequestId ?? null,
      result: record ? recordResult(result) : null,
    };
  }

  private async succeeded(
    trail: CallTrail,
    tool: AnyStripeTool,
    result: ToolResult<Record<string, unknown>>,
    replayed: boolean,
  ): Promise<CallOutcome> {
    if (tool.kind !== "write") return { ok: true, output: result.output, text: result.text };
    const { caps } = this.policy;
    const usage = await this.store.usage({
      session: this.sessionId,
      agent: this.agent,
      tool: tool.name,
      customer: null,
      at: this.clock(),
    });
    const block: SpendguardBlock = {
      replayed,
      cap_currency: caps.currency,
      session_left:
        caps.perSession === null ? null : Math.max(0, caps.perSession - usage.sessionSpend),
      day_left: caps.perDay === null ? null : Math.max(0, caps.perDay - usage.daySpend),
    };
    const notes = [
      trail.approval ? `(Approved by a person: ${trail.approval.id}.)` : undefined,
      replayed ? "(A repeat of an earlier identical call: nothing was done twice.)" : undefined,
      trail.charge?.moves ? capsLeftLine(caps, usage) : undefined,
    ].filter((note) => note !== undefined);
    return {
      ok: true,
      output: { ...result.output, spendguard: block },
      text: [result.text, ...notes].join(" "),
    };
  }

  /**
   * The session row and the kill flags, read fresh: a kill takes effect on the very next
   * call. A flag found, or a session found past its expiry, is written into the session
   * so it stays that way even if the flag is later removed.
   */
  private async readSession(
    now: number,
  ): Promise<{ session: SessionFacts; killFlag: KillFlag | null }> {
    const row = await this.store.getSession(this.sessionId);
    if (!row) throw new Error(`session ${this.sessionId} vanished from the store`);
    const killFlag = row.state === "active" ? readKillFlag(this.home, this.sessionId) : null;
    if (killFlag) {
      await this.store.changeSessionState(this.sessionId, {
        state: "killed",
        at: now,
        by: "flag-file",
        reason: killFlag.reason,
      });
    } else if (row.state === "active" && row.expires_at !== null && now >= row.expires_at) {
      await this.store.changeSessionState(this.sessionId, {
        state: "expired",
        at: now,
        by: null,
        reason: "session_ttl",
      });
    }
    return {
      session: {
        state: row.state,
        expiresAt: row.expires_at,
        killedBy: row.killed_by,
        killReason: row.kill_reason,
      },
      killFlag,
    };
  }

  /** The session check again, just before a write leaves for Stripe. */
  private async sessionDenial(): Promise<Denial | undefined> {
    const now = this.clock();
    const { session, killFlag } = await this.readSession(now);
    return checkSession(session, killFlag, this.policy, now);
  }

  private async denied(trail: CallTrail, decision: Denial, hint?: string): Promise<CallOutcome> {
    await this.append(
      trail,
      trail.entry("deny", "denied", decision.code, decision.rule, decision.reason),
    );
    return { ok: false, code: decision.code, message: decision.reason, ...(hint ? { hint } : {}) };
  }

  private async refuse(
    trail: CallTrail,
    decision: AuditDecision,
    outcome: AuditOutcome,
    error: SpendguardError,
  ): Promise<CallOutcome> {
    await this.append(trail, trail.entry(decision, outcome, error.code, null, error.message));
    return errorOutcome(error);
  }

  private async append(trail: CallTrail, entry: AuditEntry): Promise<void> {
    await this.store.appendAudit(entry);
    trail.closed();
  }

  /** Anything unexpected: logged (redacted), audited once, reported as `internal_error`. */
  private async crashed(trail: CallTrail, err: unknown): Promise<CallOutcome> {
    this.logFailure(trail, err);
    const maybeSent = trail.sent && trail.idempotencyKey !== null;
    const failure = failureOf(err, maybeSent ? "write" : "read");
    try {
      if (trail.admission && !trail.isClosed) {
        const entry = trail.entry(
          "allow",
          maybeSent ? "unknown" : "failed",
          "internal_error",
          null,
          failure.error.message,
        );
        if (maybeSent) await this.store.markUnknown(trail.admission.id, entry);
        else await this.store.release(trail.admission.id, entry);
      } else if (!trail.isClosed) {
        await this.store.appendAudit(
          trail.entry("error", "failed", "internal_error", null, failure.error.message),
        );
      }
    } catch (auditErr) {
      this.logger.error(
        { err: redactError(auditErr), session: this.sessionId },
        "could not record a failed call",
      );
    }
    if (failure.error.code === "store_unavailable") {
      // Refused: nothing is let through without the ledger. After the send, say so.
      return errorOutcome(maybeSent ? storeLostOutcome() : failure.error);
    }
    return errorOutcome(failure.error, "internal_error");
  }

  private logFailure(trail: CallTrail, err: unknown): void {
    this.logger.error(
      { err: redactError(err), session: this.sessionId, tool: trail.tool },
      "tool call failed unexpectedly",
    );
  }
}

/** `apr_… (via operator, operator:olivia)`: the approval, and who gave it by which path. */
function approvedBy(approval: ApprovalRecord): string {
  const by = approval.decided_by ?? "unknown";
  return `${approval.id} (via ${decisionPath(by)}, ${by})`;
}

/** A call's approval, ready to be used up by its admission. */
interface GrantedApproval {
  call: ApprovalCall;
  record: ApprovalRecord;
}

/** The database went away after the request left: the outcome stands, its record waits. */
function storeLostOutcome(): SpendguardError {
  return new SpendguardError(
    "store_unavailable",
    "Stripe may have done this, but spendguard's database stopped answering before it was recorded.",
    "Do not repeat this with different arguments. Repeat the same call once the database is back: nothing is done twice, and it keeps counting against the caps until confirmed.",
  );
}

/** The agent's arguments without the guard's own `stripe_account`: what a replay re-parses. */
function rawToolArgs(rawArgs: unknown): Record<string, unknown> {
  if (rawArgs === null || typeof rawArgs !== "object" || Array.isArray(rawArgs)) return {};
  const { stripe_account: _account, ...rest } = rawArgs as Record<string, unknown>;
  return rest;
}
