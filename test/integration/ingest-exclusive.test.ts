// Two servers on one real PostgreSQL (as Kubernetes replicas are): only one replays and applies the ingest
// log at a time (server/control-plane.ts wires Database.tryLock into IngestService's `exclusive`). A new
// leader whose predecessor still holds its buffered history waits, and replays only what that one left
// unapplied — so no batch's history is written twice however slow the old leader's last flush is. Then the
// lock's end with its process (its connection closed without a release, as a SIGKILL does) lets the next
// server replay what was left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeObservations, type MultiEdgeInference, type ObservationBatch } from '@mei/contracts';
import type { Logger } from '../../server/log.ts';
import { HistoryWriter } from '../../server/history/writer.ts';
import { IngestLog } from '../../server/ingest/ingest-log.ts';
import { IngestService } from '../../server/ingest/ingest-service.ts';
import { LiveHub } from '../../server/live/live-hub.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

let pgServer: TestPostgres;
const dbs: Database[] = [];
beforeAll(async () => {
  pgServer = await startPostgres();
});
afterAll(async () => {
  for (const db of dbs) await db.close();
  await pgServer?.stop();
});

const job = {
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'MultiEdgeInference',
  metadata: { namespace: 'default', name: 'fence', uid: '00000000-0000-4000-8000-00000000f00d', resourceVersion: '1', generation: 1, creationTimestamp: new Date().toISOString() },
  spec: { cameras: [{ name: 'cam', node: 'n1', source: 'x' }], models: { detector: { decoder: 'yolox' } } },
} as MultiEdgeInference;
const jobs = { synced: true, get: (k: string) => (k === 'default/fence' ? job : undefined), onChange: () => () => {} };
const agent = { jobKey: 'default/fence', uid: job.metadata.uid, node: 'n1' };
const batch = (seq: number): ObservationBatch => ({
  jobKey: 'default/fence',
  camera: 'cam',
  seq,
  session: 's1',
  frames: [{ frameIndex: seq, timestampMs: seq * 1_000, emittedAt: Date.now(), width: 640, height: 480, tracks: [{ id: 1, x: 10, y: 20, w: 30, h: 90, score: 0.9, state: 'confirmed' }] }],
});

/** One server: its own database connections, live hub, history writer (flushes only when asked), ingest with the lock. */
async function server(name: string) {
  const db = await openDatabase({ url: pgServer.url });
  dbs.push(db);
  const lines: string[] = [];
  const log: Logger = { info: (m) => void lines.push(m), warn: (m) => void lines.push(m), error: (m) => void lines.push(m), debug: () => {} };
  let release: (() => Promise<void>) | undefined;
  const writer = new HistoryWriter({ sql: db.sql, jobs, log, flushMs: 3_600_000, flushRows: 1e9, markApplied: IngestLog.markApplied });
  const live = new LiveHub({ jobs, history: writer, log });
  const ingest = new IngestService({ sql: db.sql, live, jobs, log, exclusive: async () => !!(release ??= await db.tryLock!('mei-ingest-apply')) });
  return { name, db, lines, writer, live, ingest, release: () => release?.() };
}

const points = async (db: Database) =>
  (await db.sql.query<{ t: string }>(`SELECT (p->>0) AS t FROM track_segments s JOIN tracks t ON t.id = s.track_id, jsonb_array_elements(s.points) p WHERE t.job_uid = $1 ORDER BY 1`, [job.metadata.uid])).map((r) => Number(r.t));

describe('one server at a time applies the ingest log (PostgreSQL)', () => {
  it('a new leader waits for the old one to flush its history, then replays nothing twice; a dead holder frees the lock', async () => {
    const a = await server('a');
    await a.ingest.start();
    expect(a.ingest.state).toBe('ready');
    const conn = a.ingest.connection(agent, 2);
    const acks = await Promise.all([0, 1, 2, 3, 4].map((s) => conn.receive(encodeObservations(batch(s)))));
    expect(acks.map((x) => x.code)).toEqual(['committed', 'committed', 'committed', 'committed', 'committed']);
    await a.live.drained();
    // a's history of those batches is still in memory (not flushed): their log rows are unapplied.

    const b = await server('b');
    const bStarted = b.ingest.start();
    await expect.poll(() => b.lines.some((l) => l.includes('another server is still applying'))).toBe(true);
    expect(b.ingest.state).toBe('starting');
    expect(b.ingest.stats().replayed).toBe(0);

    // a stops as control-plane.ts does: ingest, then the history writer's last flush, then the lock.
    await a.ingest.close();
    await a.writer.close();
    await a.release();
    await bStarted;
    expect(b.ingest.state).toBe('ready');
    expect(b.ingest.stats().replayed).toBe(0); // a applied everything itself
    expect(await points(b.db)).toEqual([0, 1_000, 2_000, 3_000, 4_000]);

    // b takes batches and dies before flushing (its lock connection ends without a release).
    const connB = b.ingest.connection(agent, 2);
    expect((await Promise.all([5, 6, 7].map((s) => connB.receive(encodeObservations(batch(s)))))).map((x) => x.code)).toEqual(['committed', 'committed', 'committed']);
    await b.live.drained();
    b.live.close();
    await b.db.close(); // the pool; the lock's own connection is still open
    const c = await server('c');
    const cStarted = c.ingest.start();
    await expect.poll(() => c.lines.some((l) => l.includes('another server is still applying'))).toBe(true);
    await b.release(); // what a dying process's closed connection does
    await cStarted;
    expect(c.ingest.stats().replayed).toBe(3);
    await c.live.drained();
    await c.ingest.close();
    await c.writer.close();
    await c.release();
    expect(await points(c.db)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000]);
    a.live.close();
    c.live.close();
  }, 240_000);
});
