// The durable ingest log (tables ingest_log / ingest_streams, migration 20261207000000_ingest_log): every batch
// is appended (protocol-2 bytes) before the server acks it; the history writer marks it applied in the same
// transaction as the history it produced; start-up replays what is not applied; applied rows are pruned
// after a retention window, and ingest_streams keeps, per stream, the highest seq pruned, so a resend of a
// pruned batch is still recognised as a duplicate (agents send a stream in seq order, so every seq at or
// below it was committed or refused before).
import type { SqlClient } from '../store/db.ts';
import type { LogKey } from '../lib/stream-key.ts';

export interface LogRow extends LogKey {
  /** The batch in wire protocol 2. */
  payload: Uint8Array;
  observations: number;
}

export interface StoredRow extends LogRow {
  receivedAt: number;
}

/** 6 parameters per row; far below PostgreSQL's 65535 even at the largest group. */
const COLS = 6;

/**
 * SQLSTATE classes that say the row itself cannot be stored (22 data exception, 23 integrity constraint):
 * refusing that batch is right. Anything else (connection lost, database shutting down, out of disk) is the
 * store's trouble and worth a retry.
 */
export function isContentError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

/** The batch field an SQL error is about, for the refusal: the column the driver names, or the one the message's type points to. */
export function errorField(err: unknown): string {
  const column = (err as { column?: unknown })?.column;
  if (column === 'camera' || column === 'session' || column === 'seq') return column;
  const message = String((err as Error)?.message ?? '');
  // ingest_log's only varchar columns: camera (63) and session (64).
  if (/character varying\(63\)/.test(message)) return 'camera';
  if (/character varying\(64\)/.test(message)) return 'session';
  if (/bigint|out of range/.test(message)) return 'seq';
  return '(message)';
}

export class IngestLog {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Appends the rows in one statement (one transaction: all or nothing). Returns the rows that are new;
   * the others were already in the log or at or below their stream's pruned high-water mark (duplicates).
   */
  async append(rows: readonly LogRow[]): Promise<Set<number>> {
    if (!rows.length) return new Set();
    const params: unknown[] = [];
    const values = rows.map((r, i) => {
      // The payload goes as hex text, decoded by the database: a bytea parameter cost PGlite about 1.7 ms of
      // CPU per 6 KB batch (more than the rest of the row's insert), hex text about 0.2 ms.
      params.push(r.jobUid, r.camera, r.session, r.seq, Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString('hex'), r.observations);
      const b = i * COLS;
      return `($${b + 1}::uuid, $${b + 2}::text, $${b + 3}::text, $${b + 4}::bigint, decode($${b + 5}::text, 'hex'), $${b + 6}::int, ${i})`;
    });
    const inserted = await this.sql.query<{ i: number }>(
      `WITH r(job_uid, camera, session, seq, payload, observations, i) AS (VALUES ${values.join(', ')}),
       ins AS (
         INSERT INTO ingest_log (job_uid, camera, session, seq, payload, observations)
         SELECT r.job_uid, r.camera, r.session, r.seq, r.payload, r.observations FROM r
         WHERE NOT EXISTS (SELECT 1 FROM ingest_streams s WHERE s.job_uid = r.job_uid AND s.camera = r.camera AND s.session = r.session AND r.seq <= s.pruned_through)
         ON CONFLICT DO NOTHING
         RETURNING job_uid, camera, session, seq)
       SELECT r.i FROM r JOIN ins USING (job_uid, camera, session, seq)`,
      params,
    );
    return new Set(inserted.map((x) => Number(x.i)));
  }

  /** Marks batches applied; call inside the transaction that stored what they produced. */
  static async markApplied(tx: SqlClient, keys: readonly LogKey[]): Promise<void> {
    if (!keys.length) return;
    await tx.query(
      `UPDATE ingest_log l SET applied = true
       FROM jsonb_to_recordset($1::jsonb) AS r(job_uid uuid, camera text, session text, seq bigint)
       WHERE l.job_uid = r.job_uid AND l.camera = r.camera AND l.session = r.session AND l.seq = r.seq`,
      [JSON.stringify(keys.map((k) => ({ job_uid: k.jobUid, camera: k.camera, session: k.session, seq: k.seq })))],
    );
  }

  /** Unapplied rows in stream and seq order, a page at a time (keyset pagination: memory stays bounded). */
  async *unapplied(pageSize = 256): AsyncGenerator<StoredRow> {
    let after: [string, string, string, string] | undefined;
    for (;;) {
      const page = await this.sql.query<{ job_uid: string; camera: string; session: string; seq: string; payload: Uint8Array; observations: number; received_at: Date }>(
        `SELECT job_uid::text AS job_uid, camera, session, seq::text AS seq, payload, observations, received_at FROM ingest_log
         WHERE NOT applied ${after ? 'AND (job_uid, camera, session, seq) > ($2::uuid, $3, $4, $5::bigint)' : ''}
         ORDER BY job_uid, camera, session, seq LIMIT $1`,
        after ? [pageSize, ...after] : [pageSize],
      );
      for (const r of page) {
        yield { jobUid: r.job_uid, camera: r.camera, session: r.session, seq: Number(r.seq), payload: new Uint8Array(r.payload), observations: r.observations, receivedAt: new Date(r.received_at).getTime() };
      }
      if (page.length < pageSize) return;
      const last = page[page.length - 1];
      after = [last.job_uid, last.camera, last.session, last.seq];
    }
  }

  /** Deletes applied rows received before `before`, raising each stream's pruned high-water mark in the same statement. */
  async prune(before: Date): Promise<number> {
    const [r] = await this.sql.query<{ n: string }>(
      `WITH gone AS (DELETE FROM ingest_log WHERE applied AND received_at < $1::timestamptz RETURNING job_uid, camera, session, seq),
       marks AS (
         INSERT INTO ingest_streams (job_uid, camera, session, pruned_through)
         SELECT job_uid, camera, session, max(seq) FROM gone GROUP BY job_uid, camera, session
         ON CONFLICT (job_uid, camera, session) DO UPDATE SET pruned_through = GREATEST(ingest_streams.pruned_through, EXCLUDED.pruned_through))
       SELECT count(*)::text AS n FROM gone`,
      [before.toISOString()],
    );
    return Number(r?.n ?? 0);
  }

  /** Rows in the log, and how many wait to be applied (status, tests). */
  async counts(): Promise<{ rows: number; unapplied: number }> {
    const [r] = await this.sql.query<{ rows: string; unapplied: string }>(`SELECT count(*)::text AS rows, count(*) FILTER (WHERE NOT applied)::text AS unapplied FROM ingest_log`);
    return { rows: Number(r.rows), unapplied: Number(r.unapplied) };
  }
}
