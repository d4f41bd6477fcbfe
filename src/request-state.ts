import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { z } from "zod";

/**
 * The `requestState` of an in-band approval on protocol revision 2026-07-28: what the
 * server needs to take the user's answer on the retried tools/call, sealed with AES-256-GCM
 * (encrypted and authenticated) so the client can neither read nor alter it. It is bound
 * to the caller (guard session and agent key), the tool and the exact arguments, expires,
 * and opens once: a second retry with the same state is refused.
 */

export interface ApprovalState {
  /** The approval request (`apr_…`) the user is asked about. */
  approval: string;
  /** The guard session and the key that made the call (null on stdio). */
  session: string;
  key: string | null;
  tool: string;
  /** sha256 of the arguments' canonical JSON. */
  args: string;
  /** ms since the epoch after which the answer no longer counts. */
  expiresAt: number;
}

export type OpenedState =
  | { ok: true; state: ApprovalState }
  | { ok: false; reason: "invalid" | "used" | "other_call" | "expired"; state?: ApprovalState };

const Sealed = z.object({
  approval: z.string().max(64),
  session: z.string().max(64),
  key: z.string().max(64).nullable(),
  tool: z.string().max(200),
  args: z.string().length(64),
  expiresAt: z.number().int(),
  nonce: z.string().length(32),
});

/** Associated data: names the format, so a token of another kind never opens as this one. */
const AAD = Buffer.from("spendguard-approval-state-v1");
const MAX_STATE_CHARS = 4096;

export function argumentsDigest(canonicalArgs: string): string {
  return createHash("sha256").update(canonicalArgs).digest("hex");
}

export class RequestStateSealer {
  private readonly key: Buffer;
  /** Nonces opened once, until their state expires. */
  private readonly used = new Map<string, number>();

  constructor(
    private readonly clock: () => number = Date.now,
    key: Buffer = randomBytes(32),
  ) {
    this.key = key;
  }

  seal(state: ApprovalState): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(AAD);
    const plain = JSON.stringify({ ...state, nonce: randomBytes(16).toString("hex") });
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  /** Opens a state for the call it claims to belong to; a state opens at most once. */
  open(
    token: unknown,
    call: { session: string; key: string | null; tool: string; args: string },
  ): OpenedState {
    const sealed = this.decrypt(token);
    if (!sealed) return { ok: false, reason: "invalid" };
    const { nonce, ...state } = sealed;
    if (
      state.session !== call.session ||
      state.key !== call.key ||
      state.tool !== call.tool ||
      state.args !== call.args
    ) {
      return { ok: false, reason: "other_call" };
    }
    const now = this.clock();
    this.forgetExpired(now);
    if (this.used.has(nonce)) return { ok: false, reason: "used", state };
    this.used.set(nonce, state.expiresAt);
    if (now > state.expiresAt) return { ok: false, reason: "expired", state };
    return { ok: true, state };
  }

  private decrypt(token: unknown): z.output<typeof Sealed> | undefined {
    if (typeof token !== "string" || token.length > MAX_STATE_CHARS) return undefined;
    const raw = Buffer.from(token, "base64url");
    if (raw.length < 12 + 16 + 1) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      decipher.setAAD(AAD);
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
      const parsed = Sealed.safeParse(JSON.parse(plain.toString("utf8")));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private forgetExpired(now: number): void {
    for (const [nonce, expiresAt] of this.used) if (expiresAt < now) this.used.delete(nonce);
  }
}
