import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import type { SavedKey } from "./idempotency.js";
import type { SeedName } from "./seed.js";
import { COLLECTION_NAMES, type CollectionName, Store, type Stored } from "./store.js";

/**
 * The sandbox's state as one JSON file: every object, the idempotency keys still alive,
 * the `seq` counter and the clock's offset. Written whole after each change (temp file,
 * fsync, rename, fsync of the directory), so a reader or a crash sees the old state or
 * the new one, never half of one; read back at start.
 */

const FORMAT = "spendguard-sandbox-state";
const VERSION = 1;

export interface SavedState {
  format: typeof FORMAT;
  version: typeof VERSION;
  /** ISO time of the write, by the sandbox's clock. */
  saved_at: string;
  /** The seed the state grew from. */
  seed: SeedName;
  clock_offset_ms: number;
  seq: number;
  platform_account: string;
  accounts: string[];
  objects: Record<CollectionName, Stored[]>;
  idempotency: SavedKey[];
}

/** A state file that cannot be used; the message names the file and what to do. */
export class SandboxStateError extends Error {
  override name = "SandboxStateError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** The state file is another running sandbox's. */
export class StateInUseError extends SandboxStateError {
  override name = "StateInUseError";
  constructor(
    file: string,
    /** The pid of the sandbox that holds it. */
    readonly holder: number,
  ) {
    super(
      file,
      `the sandbox state ${file} is in use by another running sandbox (process ${holder}). Stop that one first, or give this one another state file.`,
    );
  }
}

const stored = z.looseObject({
  id: z.string().min(1),
  account: z.string().min(1),
  created: z.number().int(),
  seq: z.number().int().nonnegative(),
});

const savedKey = z.strictObject({
  account: z.string(),
  key: z.string(),
  endpoint: z.string(),
  fingerprint: z.string(),
  createdAt: z.number().int(),
  response: z.strictObject({
    status: z.number().int(),
    body: z.string(),
    requestId: z.string(),
  }),
});

const savedState = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  saved_at: z.string(),
  seed: z.enum(["demo", "empty"]),
  clock_offset_ms: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
  platform_account: z.string().min(1),
  accounts: z.array(z.string().min(1)),
  objects: z.strictObject(
    Object.fromEntries(COLLECTION_NAMES.map((name) => [name, z.array(stored)])) as Record<
      CollectionName,
      z.ZodArray<typeof stored>
    >,
  ),
  idempotency: z.array(savedKey),
});

export function snapshot(options: {
  store: Store;
  keys: SavedKey[];
  seed: SeedName;
  clockOffsetMs: number;
  now: number;
}): SavedState {
  const { store } = options;
  const objects = {} as Record<CollectionName, Stored[]>;
  for (const [name, collection] of Object.entries(store.collections())) {
    objects[name as CollectionName] = collection.records();
  }
  return {
    format: FORMAT,
    version: VERSION,
    saved_at: new Date(options.now).toISOString(),
    seed: options.seed,
    clock_offset_ms: options.clockOffsetMs,
    seq: store.seq,
    platform_account: store.platformAccount,
    accounts: [...store.accounts].filter((a) => a !== store.platformAccount),
    objects,
    idempotency: options.keys,
  };
}

/** The store a saved state describes. */
export function restoreStore(saved: SavedState): Store {
  const store = new Store(saved.platform_account, saved.accounts);
  const collections = store.collections();
  for (const name of COLLECTION_NAMES) collections[name].restore(saved.objects[name]);
  store.seq = saved.seq;
  return store;
}

/** Reads a state file; `undefined` when there is none yet. */
export function readStateFile(file: string): SavedState | undefined {
  const startOver = "Move it away (or delete it) to start again from the seed data.";
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new SandboxStateError(file, `cannot read the sandbox state ${file}: ${reason(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SandboxStateError(
      file,
      `the sandbox state ${file} is not valid JSON (${reason(error)}): it was cut short or edited. ${startOver}`,
    );
  }
  const head = json !== null && typeof json === "object" ? (json as Record<string, unknown>) : {};
  if (head.format !== FORMAT) {
    throw new SandboxStateError(
      file,
      `${file} is not a spendguard sandbox state file (it has no "format": "${FORMAT}"). ${startOver}`,
    );
  }
  if (head.version !== VERSION) {
    throw new SandboxStateError(
      file,
      `the sandbox state ${file} has format version ${JSON.stringify(head.version)}; this spendguard reads version ${VERSION}. Use the spendguard that wrote it, or ${startOver.toLowerCase()}`,
    );
  }
  const parsed = savedState.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`));
    throw new SandboxStateError(
      file,
      `the sandbox state ${file} is damaged at ${where?.join("").slice(1) || "the top"}: ${issue?.message}. ${startOver}`,
    );
  }
  const state = parsed.data as SavedState;
  const accounts = new Set([state.platform_account, ...state.accounts]);
  for (const name of COLLECTION_NAMES) {
    const stray = state.objects[name].find((record) => !accounts.has(record.account));
    if (stray) {
      throw new SandboxStateError(
        file,
        `the sandbox state ${file} is damaged: ${stray.id} belongs to ${stray.account}, an account it does not list. ${startOver}`,
      );
    }
  }
  return state;
}

/** Replaces the file with `state` in one step: a crash leaves the old file or the new one. */
export function writeStateFile(file: string, state: SavedState): void {
  const directory = dirname(file);
  const temp = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temp, "w", 0o600);
    try {
      writeFileSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
    syncDirectory(directory);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new SandboxStateError(file, `cannot save the sandbox state to ${file}: ${reason(error)}`);
  }
}

/** Makes the rename itself durable; platforms that cannot open a directory skip it. */
function syncDirectory(directory: string): void {
  let fd: number;
  try {
    fd = openSync(directory, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    closeSync(fd);
  }
}

/** The files of this process's sandboxes, to tell our own lock from a dead process's. */
const heldHere = new Set<string>();

/**
 * Makes this sandbox the only one using `file` (`FILE.lock` holds its pid) until the
 * returned release is called: two sandboxes writing one file would lose each other's
 * objects. A lock left by a process that no longer runs is taken over.
 */
export function lockStateFile(file: string): () => void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        rmSync(lock, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new SandboxStateError(
          file,
          `cannot lock the sandbox state ${file}: ${reason(error)}`,
        );
      }
    }
    const holder = lockHolder(lock);
    if (holder === undefined) continue; // released meanwhile
    const ours = holder === process.pid && heldHere.has(file);
    if (ours || (holder !== process.pid && running(holder))) {
      throw new StateInUseError(file, holder);
    }
    rmSync(lock, { force: true });
  }
  throw new SandboxStateError(
    file,
    `cannot lock the sandbox state ${file}: ${lock} keeps coming back`,
  );
}

/** The pid a lock file names (NaN when unreadable), or undefined once it is gone. */
function lockHolder(lock: string): number | undefined {
  try {
    return Number(readFileSync(lock, "utf8").trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return Number.NaN;
  }
}

/** Whether the process with this pid runs (EPERM: it runs, as another user). */
function running(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
