import { z } from "zod";

/**
 * An incoming-webhook message as Slack's Block Kit reference describes it, for the block
 * types spendguard sends: `text` (required with blocks: it is the notification), at most 50
 * blocks; a header's plain text up to 150 characters; a section's text up to 3000 and at
 * most 10 fields of up to 2000 each (text or fields required); a context of 1 to 10
 * elements. mrkdwn text with a bare `<`, `>` or `&` would be read as markup (a mention,
 * a link): Slack wants them as `&lt;`, `&gt;`, `&amp;`.
 */

const escaped = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((text) => !/[<>]/.test(text), "a bare < or > (Slack markup)")
    .refine((text) => !/&(?!(amp|lt|gt);)/.test(text), "a bare & (Slack markup)");

const mrkdwn = (max: number) =>
  z.object({ type: z.literal("mrkdwn"), text: escaped(max) }).strict();

const header = z
  .object({
    type: z.literal("header"),
    text: z
      .object({
        type: z.literal("plain_text"),
        text: z.string().min(1).max(150),
        emoji: z.boolean().optional(),
      })
      .strict(),
  })
  .strict();

const section = z
  .object({
    type: z.literal("section"),
    text: mrkdwn(3_000).optional(),
    fields: z.array(mrkdwn(2_000)).min(1).max(10).optional(),
  })
  .strict()
  .refine((block) => block.text !== undefined || block.fields !== undefined, "text or fields");

const context = z
  .object({ type: z.literal("context"), elements: z.array(mrkdwn(3_000)).min(1).max(10) })
  .strict();

export const slackWebhookMessage = z
  .object({
    text: escaped(40_000),
    blocks: z
      .array(z.union([header, section, context]))
      .min(1)
      .max(50),
  })
  .strict();
