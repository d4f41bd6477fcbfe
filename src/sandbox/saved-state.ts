import { SandboxClock } from "./clock.js";
import { IdempotencyLedger } from "./idempotency.js";
import { DEMO, PLATFORM_ACCOUNT, type SeedName, seedDemo } from "./seed.js";
import { readStateFile, restoreStore, snapshot, writeStateFile } from "./state-file.js";
import { Store } from "./store.js";

/** A sandbox's state, read back from its file or freshly seeded, and how it is saved. */
export interface OpenedState {
  store: Store;
  ledger: IdempotencyLedger;
  clock: SandboxClock;
  restored: boolean;
  /** Writes the whole state to the file (nothing when in memory); throws when it cannot. */
  save(): void;
  /** Saves again if the last save failed, and throws while it still fails. */
  catchUp(): void;
}

export function openState(options: {
  stateFile?: string | undefined;
  clock?: (() => number) | undefined;
  seed?: SeedName | undefined;
}): OpenedState {
  const file = options.stateFile;
  const source = options.clock ?? Date.now;
  const saved = file === undefined ? undefined : readStateFile(file);
  const clock = new SandboxClock(source, saved?.clock_offset_ms ?? 0);
  const ledger = new IdempotencyLedger(() => clock.now());
  const seed = saved?.seed ?? options.seed ?? "demo";
  let store: Store;
  if (saved) {
    store = restoreStore(saved);
    ledger.restore(saved.idempotency);
  } else {
    store = new Store(PLATFORM_ACCOUNT, seed === "demo" ? [DEMO.accounts.connected] : []);
    if (seed === "demo") seedDemo(store, clock.seconds());
  }

  // After a failed save every request tries again first, and fails while it cannot: no
  // client is answered from a state that a restart would not bring back.
  let behind = false;
  const save = () => {
    if (file === undefined) return;
    try {
      const state = snapshot({
        store,
        keys: ledger.saved(),
        seed,
        clockOffsetMs: clock.offsetMs,
        now: clock.now(),
      });
      writeStateFile(file, state);
      behind = false;
    } catch (error) {
      behind = true;
      throw error;
    }
  };
  // A fresh state is on disk at once, so the file says where the state lives.
  if (!saved) save();
  return {
    store,
    ledger,
    clock,
    restored: saved !== undefined,
    save,
    catchUp: () => {
      if (behind) save();
    },
  };
}
