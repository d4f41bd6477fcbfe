import type { z } from "zod";
import type { ToolAnnotations } from "../../tools/tool.js";
import type { Store } from "../store/store.js";

/**
 * The contract of an operator tool: like an agent tool (name, description, zod schemas,
 * annotations, handler in one file) but it acts on spendguard itself — sessions, kills,
 * spend — and never reaches Stripe, so it never passes the guard's Stripe pipeline.
 */

/** What an operator tool may use. */
export interface OperatorContext {
  store: Store;
  /** SPENDGUARD_HOME, for kill flags. */
  home: string;
  /** Who acts, as kills record it (`killed_by`) and audit rows name it: `operator:<name>`. */
  operator: string;
  now: number;
}

export interface OperatorResult<Output> {
  output: Output;
  /** One or two sentences for the operator (and the audit row's reason). */
  text: string;
}

export interface OperatorTool<Input extends z.ZodObject, Output extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: Input;
  output: Output;
  annotations: ToolAnnotations;
  handle(ctx: OperatorContext, args: z.output<Input>): Promise<OperatorResult<z.output<Output>>>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds tools of every input/output type.
export type AnyOperatorTool = OperatorTool<any, any>;

/** Lets TypeScript infer a tool's types from its declaration. */
export const defineOperatorTool = <Input extends z.ZodObject, Output extends z.ZodObject>(
  tool: OperatorTool<Input, Output>,
): OperatorTool<Input, Output> => tool;

/** Stable codes of operator tool errors. */
export type OperatorErrorCode =
  | "invalid_input"
  | "unknown_tool"
  | "unknown_session"
  | "unknown_approval"
  | "approval_decided"
  | "approval_expired"
  | "session_not_active"
  | "unknown_admission"
  | "admission_resolved"
  | "approval_client_only"
  | "agent_not_paused"
  | "internal_error";

/** A refusal an operator tool reports as a tool error (`{ error: { code, message } }`). */
export class OperatorError extends Error {
  override name = "OperatorError";
  constructor(
    readonly code: OperatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Annotations of the tools that only read. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: false,
} as const satisfies ToolAnnotations;

/** Annotations of the kills: they stop sessions for good; doing one twice changes nothing more. */
export const STOPS_SESSIONS = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: true,
  openWorldHint: false,
} as const satisfies ToolAnnotations;

/** Annotations of approve / reject / resolve: a decision changes state once; a second one is refused. */
export const DECIDES_APPROVAL = {
  readOnlyHint: false,
  destructiveHint: false,
  idempotentHint: false,
  openWorldHint: false,
} as const satisfies ToolAnnotations;
