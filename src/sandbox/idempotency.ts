import { invalidRequest, StripeHttpError } from "./errors.js";

/** A response as sent: what a replay sends again, byte for byte. */
export interface RecordedResponse {
  status: number;
  body: string;
  /** The `Request-Id` of the request that produced it (sent back as `Original-Request`). */
  requestId: string;
}

interface Entry {
  account: string;
  key: string;
  /** `POST /v1/refunds`: a key belongs to one endpoint. */
  endpoint: string;
  fingerprint: string;
  createdAt: number;
  /** null while the first request is still being handled. */
  response: RecordedResponse | null;
}

/** A key whose first request has finished, as the state file keeps it. */
export type SavedKey = Omit<Entry, "response"> & { response: RecordedResponse };

export type Claim =
  | { kind: "replay"; response: RecordedResponse }
  | {
      kind: "first";
      /** Remembers the response for later requests with this key. */
      record(response: RecordedResponse): void;
      /** Forgets the key: the request never started executing (Stripe saves nothing then). */
      release(): void;
    };

const MAX_KEY_LENGTH = 255;
const LIFETIME_MS = 24 * 60 * 60 * 1000;

/**
 * Stripe's idempotency layer for POST requests: per account and key, the first response
 * is saved and later requests with the same parameters get it back; other parameters or
 * another endpoint are refused, and so is a second request while the first is running.
 * Keys are forgotten after 24 hours (by the injected clock).
 */
export class IdempotencyLedger {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number) {}

  claim(account: string, key: string, endpoint: string, fingerprint: string): Claim {
    if (key.length > MAX_KEY_LENGTH) {
      throw invalidRequest(
        `Invalid Idempotency-Key: keys can be at most ${MAX_KEY_LENGTH} characters long, this one has ${key.length}.`,
        { param: "Idempotency-Key" },
      );
    }
    const now = this.clock();
    this.forgetExpired(now);
    const id = entryId(account, key);
    const entry = this.entries.get(id);
    if (entry === undefined) {
      const fresh: Entry = { account, key, endpoint, fingerprint, createdAt: now, response: null };
      this.entries.set(id, fresh);
      return {
        kind: "first",
        record: (response) => {
          fresh.response = response;
        },
        release: () => {
          if (this.entries.get(id) === fresh) this.entries.delete(id);
        },
      };
    }
    if (entry.endpoint !== endpoint) {
      throw mismatch(
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${endpoint}' vs '${entry.endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    }
    if (entry.fingerprint !== fingerprint) {
      throw mismatch(
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    }
    if (entry.response === null) {
      throw invalidRequest(
        `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
        { status: 409, code: "idempotency_key_in_use" },
      );
    }
    return { kind: "replay", response: entry.response };
  }

  /**
   * The keys to keep across a restart: those whose first request finished and that have
   * not expired. One still running is left out: it never answered, so nothing promised it.
   */
  saved(): SavedKey[] {
    this.forgetExpired(this.clock());
    const done: SavedKey[] = [];
    for (const entry of this.entries.values()) {
      if (entry.response !== null) done.push({ ...entry, response: entry.response });
    }
    return done;
  }

  /** Puts back keys saved by `saved()`, oldest first. */
  restore(keys: readonly SavedKey[]): void {
    for (const entry of keys) this.entries.set(entryId(entry.account, entry.key), { ...entry });
  }

  /** Entries are kept in creation order, so expired ones are at the front. */
  private forgetExpired(now: number): void {
    for (const [id, entry] of this.entries) {
      if (now - entry.createdAt < LIFETIME_MS) break;
      this.entries.delete(id);
    }
  }
}

/** A key belongs to one account: two accounts may use the same key for different requests. */
function entryId(account: string, key: string): string {
  return `${account}\u0000${key}`;
}

function mismatch(message: string): StripeHttpError {
  return new StripeHttpError(400, "idempotency_error", message);
}
