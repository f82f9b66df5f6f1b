// The server's ingest path (server/ingest/) on both database modes (embedded PGlite and a real PostgreSQL
// server): committed only once the batch is in the ingest log (group commit), resends committed and never
// applied twice (also after a restart and after pruning), a batch the store cannot hold refused alone, the
// log's unapplied rows replayed at start, per-job byte budgets, and readiness. The job cache is a plain map
// (the controllers' informer is tested elsewhere); live hub, history writer and database are the real ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { IngestAck, MultiEdgeInference, ObservationBatch } from '@mei/contracts';
import { encodeObservations } from '@mei/contracts';
import type { Database } from '../../server/store/db.ts';
import { silentLogger } from '../../server/log.ts';
import { LiveHub } from '../../server/live/live-hub.ts';
import { HistoryWriter } from '../../server/history/writer.ts';
import { IngestService, type IngestServiceOptions } from '../../server/ingest/ingest-service.ts';
import { GroupCommitter } from '../../server/ingest/group-commit.ts';
import { IngestLog } from '../../server/ingest/ingest-log.ts';
import { databaseModes } from '../support/postgres.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-ingest-'));
const { modes, stop: stopPostgres } = databaseModes(tmp);
afterAll(async () => {
  await stopPostgres();
  fs.rmSync(tmp, { recursive: true, force: true });
});

let uidSeq = 0;
function makeJob(name: string): MultiEdgeInference {
  const uid = `00000000-0000-4000-8000-${String(++uidSeq).padStart(12, '0')}`;
  return {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { namespace: 'default', name, uid, resourceVersion: '1', generation: 1, creationTimestamp: new Date().toISOString() },
    spec: { cameras: [{ name: 'cam', node: 'n1', source: 'x' }], models: { detector: { decoder: 'yolox' } } },
  } as MultiEdgeInference;
}

function batch(job: MultiEdgeInference, seq: number, id = 1): ObservationBatch {
  const t = 1_000 + seq * 100;
  return {
    jobKey: `default/${job.metadata.name}`,
    camera: 'cam',
    seq,
    session: 's1',
    frames: [{ frameIndex: seq, timestampMs: t, emittedAt: Date.now(), width: 640, height: 480, tracks: [{ id, x: 10 + seq, y: 20, w: 30, h: 90, score: 0.9, state: 'confirmed' }] }],
  };
}

/** The job cache as the ingest service reads it. */
function jobCache(...jobs: MultiEdgeInference[]) {
  const map = new Map(jobs.map((j) => [`default/${j.metadata.name}`, j]));
  return { synced: true, get: (k: string) => map.get(k), onChange: () => () => {}, add: (j: MultiEdgeInference) => map.set(`default/${j.metadata.name}`, j) };
}

/** One server's ingest stack on `db`: live hub, history writer (flushes only when asked) and ingest service. */
function stack(db: Database, jobs: ReturnType<typeof jobCache>, o: Partial<IngestServiceOptions> = {}) {
  const writer = new HistoryWriter({ sql: db.sql, jobs, log: silentLogger, flushMs: 3_600_000, flushRows: 1e9, markApplied: IngestLog.markApplied });
  const live = new LiveHub({ jobs, history: writer, log: silentLogger });
  const ingest = new IngestService({ sql: db.sql, live, jobs, log: silentLogger, ...o });
  return { writer, live, ingest, close: () => live.close() };
}

const agentOf = (job: MultiEdgeInference) => ({ jobKey: `default/${job.metadata.name}`, uid: job.metadata.uid, node: 'n1' });
const count = async (db: Database, sql: string, params: unknown[] = []) => Number((await db.sql.query<{ n: string }>(sql, params))[0].n);

describe.each(modes)('ingest on %s', (_name, open) => {
  let db: Database;

  it('answers committed once the batches are in the log (group commit); a resend is committed, never applied twice', async () => {
    db = await open();
    const job = makeJob('commit');
    const jobs = jobCache(job);
    const s = stack(db, jobs);
    await s.ingest.start();
    const conn = s.ingest.connection(agentOf(job), 2);
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => conn.receive(encodeObservations(batch(job, i)))));
    expect(acks).toEqual(Array.from({ length: 50 }, (_, i) => ({ code: 'committed', through: i })));
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1`, [job.metadata.uid])).toBe(50);
    // 50 arrived together: the first commit took one, the next took the other 49.
    expect(s.ingest.stats().commits).toBeLessThanOrEqual(2);
    const resent = await Promise.all([3, 4, 5].map((i) => conn.receive(encodeObservations(batch(job, i)))));
    expect(resent.map((a) => a.code)).toEqual(['committed', 'committed', 'committed']);
    expect(s.ingest.stats().duplicates).toBe(3);
    await s.live.drained();
    expect(s.live.stats().batchesApplied).toBe(50);
    // The history flush marks the rows applied in its own transaction.
    expect((await s.ingest.log.counts()).unapplied).toBeGreaterThanOrEqual(50);
    await s.writer.flush();
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1 AND NOT applied`, [job.metadata.uid])).toBe(0);
    expect(await count(db, `SELECT count(*)::text AS n FROM tracks WHERE job_uid = $1`, [job.metadata.uid])).toBe(1);
    await s.ingest.close();
    s.close();
  }, 240_000);

  it('a batch the store cannot hold is refused alone, naming the field; the rest of its group commits', async () => {
    const good = makeJob('good');
    const committer = new GroupCommitter(new IngestLog(db.sql));
    const row = (uid: string, camera: string, seq: number) => ({ jobUid: uid, camera, session: 's', seq, payload: new Uint8Array([1, 2, 3]), observations: 1 });
    // A camera name past the column (the contract bounds it to 63; this one bypassed validation).
    const outcomes = await Promise.all([
      committer.submit(row(good.metadata.uid, 'cam', 1)),
      committer.submit(row(good.metadata.uid, 'cam', 2)),
      committer.submit(row('00000000-0000-4000-8000-00000000dead', 'c'.repeat(70), 1)),
      committer.submit(row(good.metadata.uid, 'cam', 3)),
    ]);
    expect(outcomes.map((o) => o.kind)).toEqual(['stored', 'stored', 'refused', 'stored']);
    expect(outcomes[2]).toMatchObject({ kind: 'refused', field: 'camera' });
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1`, [good.metadata.uid])).toBe(3);
    // A batch submitted at any moment after the previous commit finished is committed too (none left waiting
    // for a next submit): every tick offset from the previous outcome.
    for (let ticks = 0; ticks < 8; ticks++) {
      await committer.submit(row(good.metadata.uid, 'cam', 10 + 2 * ticks));
      for (let t = 0; t < ticks; t++) await null;
      expect(await committer.submit(row(good.metadata.uid, 'cam', 11 + 2 * ticks))).toEqual({ kind: 'stored', fresh: true });
    }
  }, 120_000);

  it('replays what was committed but not applied when the process died; resends after that and after pruning are duplicates', async () => {
    const job = makeJob('replay');
    const jobs = jobCache(job);
    const first = stack(db, jobs);
    await first.ingest.start();
    const conn = first.ingest.connection(agentOf(job), 1);
    for (let i = 0; i < 20; i++) expect(await conn.receive(batch(job, i, 7))).toEqual({ code: 'committed', through: i });
    await first.live.drained();
    // The process "dies": its history writer never flushed.
    first.close();
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1 AND NOT applied`, [job.metadata.uid])).toBe(20);
    expect(await count(db, `SELECT count(*)::text AS n FROM tracks WHERE job_uid = $1`, [job.metadata.uid])).toBe(0);

    const second = stack(db, jobs);
    await second.ingest.start();
    expect(second.ingest.stats().replayed).toBe(20);
    await second.writer.flush();
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1 AND NOT applied`, [job.metadata.uid])).toBe(0);
    const [track] = await db.sql.query<{ start_ms: string; end_ms: string }>(`SELECT start_ms::text, end_ms::text FROM tracks WHERE job_uid = $1`, [job.metadata.uid]);
    expect([Number(track.start_ms), Number(track.end_ms)]).toEqual([1_000, 1_000 + 19 * 100]);
    // The agent never got its last acks and resends: committed, not applied again.
    const conn2 = second.ingest.connection(agentOf(job), 1);
    expect(await conn2.receive(batch(job, 19, 7))).toEqual({ code: 'committed', through: 19 });
    expect(second.ingest.stats()).toMatchObject({ duplicates: 1, committed: 0 });
    // Pruned (older than the retention window): the stream's high-water mark still knows them.
    expect(await second.ingest.log.prune(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(20);
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1`, [job.metadata.uid])).toBe(0);
    expect(await conn2.receive(batch(job, 12, 7))).toEqual({ code: 'committed', through: 12 });
    expect(second.ingest.stats()).toMatchObject({ duplicates: 2, committed: 0 });
    expect(await conn2.receive(batch(job, 20, 7))).toEqual({ code: 'committed', through: 20 });
    expect(second.ingest.stats().committed).toBe(1);
    await second.ingest.close();
    second.close();
  }, 240_000);

  it("a job at its byte budget gets retry-later (go-back-N from there); another job's batches still commit", async () => {
    const busy = makeJob('busy');
    const calm = makeJob('calm');
    const jobs = jobCache(busy, calm);
    const s = stack(db, jobs, { maxBytesPerJob: 1 }); // one batch at a time per job
    await s.ingest.start();
    const a = s.ingest.connection(agentOf(busy), 1);
    const b = s.ingest.connection(agentOf(calm), 1);
    const acks: Array<Promise<IngestAck>> = [0, 1, 2, 3].map((i) => a.receive(batch(busy, i)));
    const other = b.receive(batch(calm, 0));
    const got = await Promise.all(acks);
    expect(got[0]).toEqual({ code: 'committed', through: 0 });
    expect(got.slice(1).map((x) => x.code)).toEqual(['retry-later', 'retry-later', 'retry-later']);
    expect(await other).toEqual({ code: 'committed', through: 0 });
    // Once applied the room is free again; the agent goes back to seq 1.
    await s.live.drained();
    expect(await a.receive(batch(busy, 1))).toEqual({ code: 'committed', through: 1 });
    await s.ingest.close();
    s.close();
  }, 120_000);

  it('publishes live before the commit; history gets a batch only once committed; a failed commit\'s history goes with its resend (store failure simulated)', async () => {
    const job = makeJob('live-first');
    const jobs = jobCache(job);
    // The real database behind a gate: appends to ingest_log wait for `open`, or fail as a lost connection
    // would (simulated: a real outage would take the whole database away from this shared test store).
    let gate: Promise<void> = Promise.resolve();
    let failNext = false;
    const sql: Database['sql'] = {
      query: async (text, params) => {
        if (/INSERT INTO ingest_log/.test(text)) {
          await gate;
          if (failNext) {
            failNext = false;
            throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
          }
        }
        return db.sql.query(text, params);
      },
      exec: (script) => db.sql.exec(script),
      transaction: (fn) => db.sql.transaction(fn),
    };
    const writer = new HistoryWriter({ sql: db.sql, jobs, log: silentLogger, flushMs: 3_600_000, flushRows: 1e9, markApplied: IngestLog.markApplied });
    const handed: Array<{ seq: number | undefined; frames: number }> = [];
    const history = {
      observations: (o: Parameters<HistoryWriter['observations']>[0]) => (handed.push({ seq: o.logKey?.seq, frames: o.frames.length }), writer.observations(o)),
      settle: (k: Parameters<HistoryWriter['settle']>[0]) => writer.settle(k),
    };
    const live = new LiveHub({ jobs, history, log: silentLogger });
    const ingest = new IngestService({ sql, live, jobs, log: silentLogger });
    await ingest.start();
    const conn = ingest.connection(agentOf(job), 2);

    let release!: () => void;
    gate = new Promise((r) => (release = r));
    let settled = false;
    const ack0 = conn.receive(encodeObservations(batch(job, 0))).then((a) => ((settled = true), a));
    // The commit is held: the frame is published all the same, and nothing went to history.
    for (const deadline = Date.now() + 30_000; live.stats().framesPublished < 1 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    expect(live.stats()).toMatchObject({ batchesApplied: 1, framesPublished: 1 });
    expect(settled).toBe(false);
    expect(handed).toEqual([]);
    release();
    expect(await ack0).toEqual({ code: 'committed', through: 0 });
    await live.drained();
    expect(handed).toEqual([{ seq: 0, frames: 1 }]);

    // A commit that fails: applied to identities (live), retry-later, no history; the resend commits and
    // brings the kept history (identities do not apply a seq twice).
    failNext = true;
    expect(await conn.receive(encodeObservations(batch(job, 1)))).toMatchObject({ code: 'retry-later' });
    await live.drained();
    expect(live.stats()).toMatchObject({ batchesApplied: 2 });
    expect(handed).toHaveLength(1);
    expect(await conn.receive(encodeObservations(batch(job, 1)))).toEqual({ code: 'committed', through: 1 });
    await live.drained();
    expect(live.stats()).toMatchObject({ batchesApplied: 2, duplicates: 1 });
    expect(handed).toEqual([{ seq: 0, frames: 1 }, { seq: 1, frames: 1 }]);
    await writer.flush();
    expect(await count(db, `SELECT count(*)::text AS n FROM ingest_log WHERE job_uid = $1 AND NOT applied`, [job.metadata.uid])).toBe(0);
    const [track] = await db.sql.query<{ start_ms: string; end_ms: string }>(`SELECT start_ms::text, end_ms::text FROM tracks WHERE job_uid = $1`, [job.metadata.uid]);
    expect([Number(track.start_ms), Number(track.end_ms)]).toEqual([1_000, 1_100]);
    await ingest.close();
    live.close();
  }, 120_000);

  it('is retry-later until the job cache is synced and while shutting down; an unknown job is refused only from a synced cache', async () => {
    const job = makeJob('ready');
    const jobs = jobCache();
    jobs.synced = false;
    const s = stack(db, jobs);
    const started = s.ingest.start();
    const conn = s.ingest.connection(agentOf(job), 1);
    expect(await conn.receive(batch(job, 0))).toMatchObject({ code: 'retry-later', reason: expect.stringContaining('starting') });
    jobs.synced = true;
    await started;
    expect(await conn.receive(batch(job, 0))).toMatchObject({ code: 'refused', field: 'jobKey' });
    jobs.add(job);
    expect(await conn.receive(batch(job, 0))).toEqual({ code: 'committed', through: 0 });
    expect(await conn.receive({ ...batch(job, 1), frames: [] })).toMatchObject({ code: 'refused', field: 'frames' });
    await s.ingest.close();
    expect(await conn.receive(batch(job, 1))).toMatchObject({ code: 'retry-later', reason: expect.stringContaining('shutting down') });
    s.close();
    await db.close();
  }, 120_000);
});
