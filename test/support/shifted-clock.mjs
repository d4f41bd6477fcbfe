// Preloaded into a spawned server (`node --import …/shifted-clock.mjs`) by tests that need
// days to pass: Date.now() (and `new Date()`) run ahead by the milliseconds written in the
// file named by SPENDGUARD_TEST_CLOCK_FILE. The product has no clock hook; only the test moves time.
import { readFileSync, statSync } from "node:fs";

const file = process.env.SPENDGUARD_TEST_CLOCK_FILE;
if (file) {
  const realNow = Date.now.bind(Date);
  let offset = 0;
  let seen = -1;
  const current = () => {
    try {
      const { mtimeMs } = statSync(file);
      if (mtimeMs !== seen) {
        seen = mtimeMs;
        offset = Number(readFileSync(file, "utf8").trim()) || 0;
      }
    } catch {
      offset = 0;
    }
    return offset;
  };
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + current());
      else super(...args);
    }
    static now() {
      return realNow() + current();
    }
  }
  globalThis.Date = ShiftedDate;
}
