import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAuditRow, GENESIS_HASH, hashAuditRow, verifyAudit } from "../../src/audit/chain.js";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite/store.js";
import type { AuditEntry, Store } from "../../src/store/store.js";
import { removeTempHomes, tempHome } from "./fixtures/home.js";

/**
 * Tampering with the audit — editing any column of any row, deleting any row, reordering
 * rows — is found by `verifyAudit`, at that row. The attacker here has the database file
 * and drops the append-only triggers first.
 */

afterAll(removeTempHomes);

const ROWS = 12;
const COLUMNS = [
  "at",
  "session",
  "agent",
  "tool",
  "args",
  "decision",
  "code",
  "rule",
  "reason",
  "stripe_request_id",
  "idempotency_key",
  "amount",
  "currency",
  "amount_cap",
  "cap_currency",
  "revenue_at_risk_cap",
  "customer",
  "outcome",
  "duration_ms",
  "prev_hash",
  "hash",
] as const;

const entry = (i: number): AuditEntry => ({
  at: new Date(Date.UTC(2026, 2, 2, 9, 0, i)).toISOString(),
  session: `ses_${i % 3}`,
  agent: "support-refunds",
  tool: i % 2 ? "issue_refund" : "lookup_charge",
  args: JSON.stringify({ charge: `ch_${i}` }),
  decision: i % 4 === 3 ? "deny" : "allow",
  code: i % 4 === 3 ? "cap_session" : null,
  rule: i % 4 === 3 ? "caps.per_session" : "policy",
  reason: i % 4 === 3 ? "only $1.00 left" : "allowed",
  stripe_request_id: i % 2 ? `req_${i}` : null,
  idempotency_key: i % 2 ? `sg_${i}` : null,
  amount: i % 2 ? 100 * i : null,
  currency: i % 2 ? "eur" : null,
  amount_cap: i % 2 ? 110 * i : null,
  cap_currency: i % 2 ? "usd" : null,
  revenue_at_risk_cap: null,
  customer: "cus_acme1",
  outcome: i % 4 === 3 ? "denied" : "ok",
  duration_ms: 0.25 + i,
});

let pristine: string;

beforeAll(async () => {
  const home = tempHome();
  const store = openSqliteStore(home);
  for (let i = 1; i <= ROWS; i++) await store.appendAudit(entry(i));
  await store.close(); // checkpoints the WAL into the file, so copying the file copies everything
  pristine = join(home, DATABASE_FILE);
});

/** A copy of the pristine audit, tampered with by `attack` on the raw database. */
async function verifyAfter(attack: (db: Database.Database) => void) {
  const home = join(tempHome(), "copy");
  mkdirSync(home);
  copyFileSync(pristine, join(home, DATABASE_FILE));
  const db = new Database(join(home, DATABASE_FILE));
  db.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
  attack(db);
  db.close();
  const store = openSqliteStore(home);
  try {
    return await verifyAudit(store);
  } finally {
    await store.close();
  }
}

/** A different value of the same type, so the edit is a real change. */
function changed(column: (typeof COLUMNS)[number], value: unknown): unknown {
  if (typeof value === "number") return value + 1;
  if (value === null) return column === "amount" || column.endsWith("_cap") ? 1 : "x";
  return `${String(value)}!`;
}

describe("verifyAudit", () => {
  it("accepts an intact chain, linked from the genesis hash", async () => {
    expect(await verifyAfter(() => {})).toEqual({ ok: true, rows: ROWS });
    const store = openSqliteStore(join(pristine, ".."));
    const [first] = (await store.queryAudit({ limit: ROWS })).slice(0, 1);
    expect(first?.prev_hash).toBe(GENESIS_HASH);
    await store.close();
  });

  it("hashes a canonical encoding of every column and the previous hash", () => {
    const text = encodeAuditRow(7, entry(7), "ab".repeat(32));
    expect(JSON.parse(text)).toEqual([
      "spendguard-audit-v1",
      7,
      ...COLUMNS.filter((c) => c !== "prev_hash" && c !== "hash").map(
        (c) => entry(7)[c as keyof AuditEntry],
      ),
      "ab".repeat(32),
    ]);
    expect(hashAuditRow(7, entry(7), "ab".repeat(32))).toMatch(/^[0-9a-f]{64}$/);
    expect(hashAuditRow(7, entry(7), "ab".repeat(32))).not.toBe(
      hashAuditRow(8, entry(7), "ab".repeat(32)),
    );
  });

  it("finds an edit of any column of any row, at that row", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: ROWS }),
        fc.constantFrom(...COLUMNS),
        async (seq, column) => {
          const result = await verifyAfter((db) => {
            const row = db
              .prepare(`SELECT ${column} AS value FROM audit WHERE seq = ?`)
              .get(seq) as {
              value: unknown;
            };
            db.prepare(`UPDATE audit SET ${column} = ? WHERE seq = ?`).run(
              changed(column, row.value),
              seq,
            );
          });
          expect(result).toMatchObject({ ok: false, brokenAt: seq });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("finds a deleted row, first, middle or last, at that row", async () => {
    for (const seq of [1, 5, ROWS]) {
      const result = await verifyAfter((db) =>
        db.prepare("DELETE FROM audit WHERE seq = ?").run(seq),
      );
      expect(result).toMatchObject({ ok: false, brokenAt: seq });
      if (!result.ok) expect(result.problem).toContain("missing");
    }
  });

  it("finds any deleted row, even when the rows after it are renumbered", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: ROWS - 1 }), async (seq) => {
        const result = await verifyAfter((db) => {
          db.prepare("DELETE FROM audit WHERE seq = ?").run(seq);
          db.prepare("UPDATE audit SET seq = seq - 1 WHERE seq > ?").run(seq);
        });
        expect(result).toMatchObject({ ok: false, brokenAt: seq });
      }),
      { numRuns: 20 },
    );
  });

  it("finds two rows swapped, at the first of them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: ROWS }),
        fc.integer({ min: 1, max: ROWS }),
        async (a, b) => {
          fc.pre(a !== b);
          const result = await verifyAfter((db) => {
            db.prepare("UPDATE audit SET seq = -1 WHERE seq = ?").run(a);
            db.prepare("UPDATE audit SET seq = ? WHERE seq = ?").run(a, b);
            db.prepare("UPDATE audit SET seq = ? WHERE seq = -1").run(b);
          });
          expect(result).toMatchObject({ ok: false, brokenAt: Math.min(a, b) });
        },
      ),
      { numRuns: 30 },
    );
  });

  it("finds a row edited and re-hashed by someone who knows the encoding, at the next row", async () => {
    const result = await verifyAfter((db) => {
      const row = db.prepare("SELECT * FROM audit WHERE seq = 4").get() as AuditEntry & {
        prev_hash: string;
      };
      const forged = { ...row, amount: 1 };
      db.prepare("UPDATE audit SET amount = 1, hash = ? WHERE seq = 4").run(
        hashAuditRow(4, forged, row.prev_hash),
      );
    });
    expect(result).toMatchObject({ ok: false, brokenAt: 5 });
    if (!result.ok) expect(result.problem).toContain("does not link to row 4");
  });

  it("finds a forged row inserted at the end", async () => {
    const result = await verifyAfter((db) => {
      db.prepare(
        `INSERT INTO audit (seq, at, session, agent, tool, args, decision, outcome, duration_ms, prev_hash, hash)
         VALUES (?, 'x', 's', 'a', 't', '{}', 'allow', 'ok', 0, 'bogus', 'bogus')`,
      ).run(ROWS + 1);
    });
    expect(result).toMatchObject({ ok: false, brokenAt: ROWS + 1 });
  });

  it("finds a missing chain head (a cut-off tail cannot hide that way)", async () => {
    const result = await verifyAfter((db) => db.exec("DELETE FROM audit_head"));
    expect(result).toMatchObject({ ok: false, brokenAt: ROWS });
  });

  it("is not confused by rows appended by another process while it runs", async () => {
    const home = tempHome();
    const store = openSqliteStore(home);
    for (let i = 1; i <= 5; i++) await store.appendAudit(entry(i));
    const writer = openSqliteStore(home);
    // Another process appends right after the head was read, before the rows are.
    const racing: Store = Object.create(store, {
      auditHead: {
        value: async () => {
          const head = await store.auditHead();
          for (let i = 6; i <= 8; i++) await writer.appendAudit(entry(i));
          return head;
        },
      },
    });
    expect(await verifyAudit(racing)).toEqual({ ok: true, rows: 8 });
    await store.close();
    await writer.close();
  });
});
