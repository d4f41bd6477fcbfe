import { z } from "zod";
import type { ToolResult } from "../../tools/tool.js";

/**
 * What the guard keeps of a settled write, so that a repeat is answered from it without
 * reaching Stripe: the tool's output and its sentence for the agent, as first returned.
 */
const recordedSchema = z.object({
  output: z.record(z.string(), z.unknown()),
  text: z.string(),
  moved: z.object({ amount: z.number(), currency: z.string() }).optional(),
});

export function recordResult(result: ToolResult<Record<string, unknown>>): string {
  return JSON.stringify({
    output: result.output,
    text: result.text,
    ...(result.moved ? { moved: result.moved } : {}),
  });
}

/** The recorded result, or `null` when there is none (or it cannot be read back). */
export function recordedResult(json: string | null): ToolResult<Record<string, unknown>> | null {
  if (json === null) return null;
  try {
    const parsed = recordedSchema.safeParse(JSON.parse(json));
    if (!parsed.success) return null;
    const { output, text, moved } = parsed.data;
    return moved ? { output, text, moved } : { output, text };
  } catch {
    return null;
  }
}
