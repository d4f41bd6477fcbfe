import type pg from "pg";
import type { AuditSource } from "../../audit/chain.js";
import type { AuditRecord } from "../store.js";

/** What reading the chain needs: the store's pool, or one transaction's client. */
export interface RowReader {
  query<Row extends pg.QueryResultRow>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

const AUDIT_PAGE_ROWS = 1_000;

/**
 * The audit chain as verification reads it, wherever `db` is: the store reads it from the
 * pool, `import-sqlite` from its own transaction, to check the copy before committing it.
 */
export function auditChain(db: RowReader): AuditSource {
  return {
    async *iterateAudit(): AsyncIterable<AuditRecord> {
      for (let after = 0; ; ) {
        const page = await db.query<AuditRecord>(
          "SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
          [after, AUDIT_PAGE_ROWS],
        );
        yield* page;
        const last = page.at(-1);
        if (page.length < AUDIT_PAGE_ROWS || !last) return;
        after = last.seq;
      }
    },
    async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
      const rows = await db.query<{ seq: number; hash: string }>(
        "SELECT seq, hash FROM audit_head WHERE id = 1",
      );
      return rows[0];
    },
  };
}
