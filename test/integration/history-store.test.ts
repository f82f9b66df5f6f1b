// The history store on both database modes (embedded PGlite and a real PostgreSQL server): the batched
// writer's round trip (tracks, downsampled trajectories, representative embeddings, identity merges, camera
// sessions, thumbnails only where privacy allows), search over what it wrote, retention with an injected
// clock, and a slow database that must neither block the ingest nor lose tracks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { MAX_THUMBNAIL_SIDE, type MultiEdgeInference, type PrivacySpec, type RetentionSpec } from '@mei/contracts';
import type { Database, SqlClient } from '../../server/store/db.ts';
import { silentLogger } from '../../server/log.ts';
import { HistoryService } from '../../server/history/service.ts';
import { unitVector } from '../../server/history/representatives.ts';
import type { HistoryObservations } from '../../server/history/sink.ts';
import { databaseModes } from '../support/postgres.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-history-'));
afterAll(async () => {
  await stopPostgres();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const MODEL = 'osnet-x0.25-msmt17';
const DAY = 86_400_000;
let uidSeq = 0;

/** A job in a mutable registry, as the controllers' cache would hold it. */
function makeJob(jobs: Map<string, MultiEdgeInference>, name: string, o: { privacy?: PrivacySpec; retention?: RetentionSpec } = {}) {
  const uid = `00000000-0000-4000-8000-${String(++uidSeq).padStart(12, '0')}`;
  const job = {
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { namespace: 'default', name, uid, resourceVersion: '1', generation: 1, creationTimestamp: new Date().toISOString() },
    spec: {
      cameras: [
        { name: 'left', node: 'n', source: 'x' },
        { name: 'right', node: 'n', source: 'x' },
      ],
      models: { detector: { decoder: 'yolox' }, reid: { kind: 'onnx', name: MODEL } },
      ...o,
    },
  } as MultiEdgeInference;
  jobs.set(`default/${name}`, job);
  return { key: `default/${name}`, uid, job };
}

/** A deterministic unit-ish vector per person, with a little per-call noise. */
function personVector(person: number, noise = 0, dim = 32): number[] {
  return Array.from({ length: dim }, (_, i) => Math.sin(person * 12.9898 + i * 78.233) + noise * Math.cos(i * 3.1 + noise * 100));
}

function batch(key: string, uid: string, camera: string, frames: Array<{ t: number; tracks: Array<{ id: number; g?: string; x?: number }> }>, extra: Partial<HistoryObservations> = {}): HistoryObservations {
  return {
    jobKey: key,
    jobUid: uid,
    camera,
    frames: frames.map((f, i) => ({
      frameIndex: Math.round(f.t / 100),
      timestampMs: f.t,
      width: 432,
      height: 576,
      tracks: f.tracks.map((t) => ({ localId: t.id, globalId: t.g ?? '', x: t.x ?? 10 + i, y: 20, w: 40, h: 100, score: 0.9, state: 'confirmed' as const })),
    })),
    ...extra,
  };
}

const { modes, stop: stopPostgres } = databaseModes(tmp);

describe.each(modes)('history store on %s', (_name, open) => {
  let db: Database;
  const jobs = new Map<string, MultiEdgeInference>();
  let clock = Date.parse('2026-03-01T12:00:00Z');
  const registry = { get: (k: string) => jobs.get(k), list: () => [...jobs.values()] };
  const service = (sql: SqlClient = db.sql, writer = {}) =>
    new HistoryService({ sql, jobs: registry, log: silentLogger, now: () => clock, writer: { flushMs: 60_000, ...writer }, env: {} });

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('writes tracks, 2-points-per-second trajectories, a few representative embeddings and merges; reads them back', async () => {
    const h = service();
    const { key, uid } = makeJob(jobs, 'round-trip');
    // Person A on both cameras (10 fps for 5 s), person B on the left only.
    for (let s = 0; s < 50; s += 5) {
      const frames = Array.from({ length: 5 }, (_, i) => ({ t: 1000 + (s + i) * 100, tracks: [{ id: 1, g: 'P1' }, { id: 2, g: 'P2' }] }));
      h.sink.observations(batch(key, uid, 'left', frames, { seq: undefined, embeddings: [{ id: 1, vector: personVector(1, s / 50) }, { id: 2, vector: personVector(2, s / 50) }] } as Partial<HistoryObservations>));
      h.sink.observations(batch(key, uid, 'right', frames.map((f) => ({ ...f, tracks: [{ id: 7, g: 'P1' }] })), { embeddings: [{ id: 7, vector: personVector(1, 0.5 + s / 50) }] }));
      await h.writer.flush(); // one flush per batch: each embedding is a candidate representative
    }
    await h.writer.close();

    const list = await h.listTracks({ jobKey: key });
    expect(list.cameras).toEqual(['left', 'right']);
    expect(list.items.map((t) => `${t.camera}:${t.localId}:${t.globalId}`).sort()).toEqual(['left:1:P1', 'left:2:P2', 'right:7:P1']);
    const left1 = list.items.find((t) => t.camera === 'left' && t.localId === 1)!;
    expect(left1).toMatchObject({ startMs: 1000, endMs: 5900, frameWidth: 432, frameHeight: 576, thumbnail: false });

    // 50 observations over 4.9 s at <= 2 points/s, plus the last position written when the track closed.
    const detail = (await h.trackDetail(left1.id))!;
    expect(detail.points.length).toBeGreaterThanOrEqual(10);
    expect(detail.points.length).toBeLessThanOrEqual(11);
    expect(detail.points[0]).toEqual([1000, 10, 20, 40, 100, 0.9]);
    expect(detail.points[detail.points.length - 1][0]).toBe(5900);
    for (let i = 1; i < detail.points.length; i++) expect(detail.points[i][0]).toBeGreaterThan(detail.points[i - 1][0]);

    // Ten embeddings per track, at most four kept (updated in place once full).
    const counts = await db.sql.query<{ track_id: string; n: number; d: number }>(
      `SELECT e.track_id, count(*)::int AS n, max(e.dim) AS d FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE t.job_uid = $1 AND e.model = $2 GROUP BY e.track_id`,
      [uid, MODEL],
    );
    expect(counts).toHaveLength(3);
    for (const c of counts) expect(c).toMatchObject({ n: 4, d: 32 });
    expect(h.writer.stats()).toMatchObject({ embeddingsInserted: 12, embeddingsUpdated: 18, flushErrors: 0 });

    // Search: person A's vector finds identity P1 first, with both cameras and their time spans.
    const res = await h.search.byVectors(MODEL, [Float32Array.from(personVector(1, 0.3))], { jobKey: key });
    expect(res.identities[0].identity).toBe('P1');
    expect(res.identities[0].cameras.map((c) => c.camera)).toEqual(['left', 'right']);
    expect(res.identities[0].cameras[0].spans[0]).toMatchObject({ startMs: 1000, endMs: 5900 });
    expect(res.identities[1].identity).toBe('P2');
    expect(res.identities[0].distance).toBeLessThan(res.identities[1].distance);
    // Filters: only the right camera; a time range before everything.
    const right = await h.search.byVectors(MODEL, [Float32Array.from(personVector(1))], { jobKey: key, cameras: ['right'] });
    expect(right.identities.map((i) => i.identity)).toEqual(['P1']);
    expect(right.identities[0].cameras.map((c) => c.camera)).toEqual(['right']);
    expect((await h.search.byVectors(MODEL, [Float32Array.from(personVector(1))], { jobKey: key, toMs: 900 })).identities).toEqual([]);

    // "Find this person" from the right camera's track reaches the left camera's track of the same person.
    const rightTrack = list.items.find((t) => t.camera === 'right')!;
    const found = await h.searchTrack(rightTrack, { jobKey: key });
    expect(found.query).toMatchObject({ kind: 'track', model: MODEL, trackId: rightTrack.id });
    expect(found.identities[0].tracks.map((t) => t.id).sort()).toEqual([left1.id, rightTrack.id].sort());
  });

  it('rewrites a representative at most once per repRefreshMs of track time; the newest embedding is written when the track goes quiet', async () => {
    const h = service(db.sql, { repRefreshMs: 10_000 });
    const { key, uid } = makeJob(jobs, 'rep-refresh');
    const vectors: number[][] = [];
    for (let s = 0; s < 30; s++) {
      // 30 flushes, 1 s of track time apart; the embedding drifts a little (one representative, replaced in place).
      vectors.push(personVector(3, s / 1000));
      h.sink.observations(batch(key, uid, 'left', [{ t: 1000 + s * 1000, tracks: [{ id: 1, g: 'P3' }] }], { embeddings: [{ id: 1, vector: vectors[s] }] }));
      await h.writer.flush();
    }
    // Inserted at s = 0, rewritten at s = 10 and 20 (not at every flush).
    expect(h.writer.stats()).toMatchObject({ embeddingsInserted: 1, embeddingsUpdated: 2, flushErrors: 0 });
    await h.writer.close();
    expect(h.writer.stats().embeddingsUpdated).toBe(3);
    const [row] = await db.sql.query<{ vector: number[] }>(`SELECT e.vector FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE t.job_uid = $1`, [uid]);
    const last = vectors[29];
    const norm = Math.hypot(...last);
    expect(row.vector.map((x) => Math.round(x * 1e4))).toEqual(last.map((x) => Math.round((x / norm) * 1e4)));
  });

  it('stores representatives bit for bit (binary COPY on PGlite, SQL text on PostgreSQL); a restarted writer rewrites the stored ones in place', async () => {
    const { key, uid } = makeJob(jobs, 'rep-exact');
    const read = () =>
      db.sql.query<{ id: string; t_ms: string; vector: number[] }>(
        `SELECT e.id::text AS id, e.t_ms::text AS t_ms, e.vector FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE t.job_uid = $1 ORDER BY e.id`,
        [uid],
      );
    const [v1, v2, v3] = [personVector(4), personVector(4, 0.001), personVector(9)];
    let h = service();
    h.sink.observations(batch(key, uid, 'left', [{ t: 1000, tracks: [{ id: 1, g: 'P4' }] }], { embeddings: [{ id: 1, vector: v1 }] }));
    await h.writer.close();
    const [first] = await read();
    expect(Float32Array.from(first.vector)).toEqual(unitVector(v1));
    // A new process: it knows nothing of the track but the table. A near embedding replaces the stored one...
    h = service();
    h.sink.observations(batch(key, uid, 'left', [{ t: 2000, tracks: [{ id: 1, g: 'P4' }] }], { embeddings: [{ id: 1, vector: v2 }] }));
    await h.writer.flush();
    expect(h.writer.stats()).toMatchObject({ embeddingsInserted: 0, embeddingsUpdated: 1, flushErrors: 0 });
    // ...and a different one is a second representative.
    h.sink.observations(batch(key, uid, 'left', [{ t: 3000, tracks: [{ id: 1, g: 'P4' }] }], { embeddings: [{ id: 1, vector: v3 }] }));
    await h.writer.close();
    expect(h.writer.stats()).toMatchObject({ embeddingsInserted: 1, embeddingsUpdated: 1, flushErrors: 0 });
    const rows = await read();
    expect(rows.map((r) => [r.id === first.id, r.t_ms])).toEqual([
      [true, '2000'],
      [false, '3000'],
    ]);
    expect(Float32Array.from(rows[0].vector)).toEqual(unitVector(v2));
    expect(Float32Array.from(rows[1].vector)).toEqual(unitVector(v3));
  });

  it('a flush that fails at its commit loses nothing: memory learns representatives and thumbnail rows only from committed flushes', async () => {
    let failNext = true;
    // The real database, but the first flush is rolled back after all its statements ran (a failed COMMIT).
    const flaky: SqlClient = {
      query: (t, p) => db.sql.query(t, p),
      exec: (s) => db.sql.exec(s),
      transaction: (fn) =>
        db.sql.transaction(async (tx) => {
          const r = await fn(tx);
          if (failNext) {
            failNext = false;
            throw new Error('simulated commit failure');
          }
          return r;
        }),
      ...(db.sql.copyBinary ? { copyBinary: db.sql.copyBinary } : {}),
    };
    const h = service(flaky);
    const { key, uid } = makeJob(jobs, 'flush-fails', { privacy: { preview: 'thumbnails' } });
    const crop = jpeg.encode({ width: 40, height: 80, data: Buffer.alloc(40 * 80 * 4, 90) }, 80).data;
    h.sink.observations(batch(key, uid, 'left', [{ t: 1000, tracks: [{ id: 1, g: 'P8' }] }], { embeddings: [{ id: 1, vector: personVector(8) }] }));
    h.sink.thumbnail!({ jobKey: key, jobUid: uid, camera: 'left', localId: 1, frameIndex: 10, timestampMs: 1000, width: 40, height: 80, jpeg: crop });
    await h.writer.flush();
    expect(h.writer.stats()).toMatchObject({ flushErrors: 1, embeddingsInserted: 0, thumbnailsWritten: 0 });
    await h.writer.close();
    expect(h.writer.stats()).toMatchObject({ flushErrors: 1, embeddingsInserted: 1, thumbnailsWritten: 1, thumbnailsDropped: 0 });
    const [t] = (await h.listTracks({ jobKey: key })).items;
    expect(t).toMatchObject({ globalId: 'P8', thumbnail: true });
    expect((await h.thumbnail(t.id))!.width).toBe(40);
    const embs = await h.store.trackEmbeddings(t.id);
    expect(embs).toHaveLength(1);
    expect(embs[0].vector).toEqual(unitVector(personVector(8)));
  });

  it('relabels stored tracks on identity merges and keeps camera sessions apart', async () => {
    const h = service();
    const { key, uid } = makeJob(jobs, 'merge-session');
    h.sink.observations(batch(key, uid, 'left', [{ t: 0, tracks: [{ id: 1, g: 'P5' }] }]));
    h.sink.observations(batch(key, uid, 'right', [{ t: 0, tracks: [{ id: 1, g: 'P9' }] }]));
    await h.writer.flush();
    h.sink.observations(batch(key, uid, 'right', [{ t: 100, tracks: [{ id: 1, g: 'P5' }] }], { events: [{ type: 'merged', from: 'P9', into: 'P5', timestampMs: 100 }] }));
    // The agent restarted the left camera: local id 1 is somebody else now.
    h.sink.observations(batch(key, uid, 'left', [{ t: 200, tracks: [{ id: 1, g: 'P6' }] }], { session: 'run-2' }));
    await h.writer.close();
    const items = (await h.listTracks({ jobKey: key })).items.map((t) => `${t.camera}:${t.localId}:${t.globalId}`).sort();
    expect(items).toEqual(['left:1:P5', 'left:1:P6', 'right:1:P5']);
  });

  it("keeps the agents' thumbnails only when privacy.preview allows pixels to leave the edge, replaced only by a clearly larger crop", async () => {
    const crop = (w: number, h: number) => jpeg.encode({ width: w, height: h, data: Buffer.alloc(w * h * 4, 200) }, 80).data;
    const counts: Record<string, number> = {};
    for (const mode of ['none', 'live'] as const) {
      const h = service();
      const { key, uid } = makeJob(jobs, `thumbs-${mode}`, { privacy: { preview: mode } });
      h.sink.observations(batch(key, uid, 'left', [{ t: 500, tracks: [{ id: 3, x: 100 }] }]));
      h.sink.thumbnail!({ jobKey: key, jobUid: uid, camera: 'left', localId: 3, frameIndex: 5, timestampMs: 500, width: 40, height: 80, jpeg: crop(40, 80) });
      await h.writer.flush();
      // Less than THUMBNAIL_UPGRADE times the pixels: not kept. Then a clearly larger one: replaces it.
      h.sink.thumbnail!({ jobKey: key, jobUid: uid, camera: 'left', localId: 3, frameIndex: 6, timestampMs: 600, width: 50, height: 100, jpeg: crop(50, 100) });
      await h.writer.flush();
      const [t0] = (await h.listTracks({ jobKey: key })).items;
      if (t0.thumbnail) expect((await h.thumbnail(t0.id))!.width).toBe(40);
      h.sink.thumbnail!({ jobKey: key, jobUid: uid, camera: 'left', localId: 3, frameIndex: 7, timestampMs: 700, width: 80, height: 160, jpeg: crop(80, 160) });
      await h.writer.close();
      const [t] = (await h.listTracks({ jobKey: key })).items;
      counts[mode] = t.thumbnail ? 1 : 0;
      if (t.thumbnail) {
        const th = (await h.thumbnail(t.id))!;
        expect(th.jpeg[0]).toBe(0xff);
        expect([th.width, th.height]).toEqual([80, 160]);
        expect(Math.max(th.width, th.height)).toBeLessThanOrEqual(MAX_THUMBNAIL_SIDE);
      }
      expect(h.writer.stats()).toMatchObject(mode === 'live' ? { thumbnailsWritten: 2, thumbnailsDropped: 1 } : { thumbnailsWritten: 0, thumbnailsRefused: 3 });
    }
    expect(counts).toEqual({ none: 0, live: 1 });
  });

  it('deletes history past the job\'s retention (current spec, or the days stored with a deleted job\'s rows)', async () => {
    const h = service();
    const short = makeJob(jobs, 'keep-1-day', { retention: { tracksDays: 1, thumbnailsDays: 1 }, privacy: { preview: 'live' } });
    const gone = makeJob(jobs, 'deleted-job', { retention: { tracksDays: 3 } });
    for (const j of [short, gone]) {
      h.sink.observations(batch(j.key, j.uid, 'left', [{ t: 0, tracks: [{ id: 1, g: 'P1' }] }], { embeddings: [{ id: 1, vector: personVector(4) }] }));
    }
    await h.writer.flush();
    jobs.delete(gone.key); // its rows carry keep_days = 3
    // Search once so that the index is loaded and must follow the deletions.
    expect((await h.search.byVectors(MODEL, [Float32Array.from(personVector(4))], { jobKey: short.key })).identities).toHaveLength(1);
    const before = h.indexes;
    const sizeBefore = (await before.get(MODEL))!.size;

    clock += 0.5 * DAY;
    expect(await h.sweeper.sweep()).toEqual({ tracks: 0, embeddings: 0, thumbnails: 0 });
    clock += 1 * DAY; // 1.5 days: past keep-1-day, not past 3 days
    expect(await h.sweeper.sweep()).toMatchObject({ tracks: 1, embeddings: 1 });
    expect((await h.listTracks({ jobKey: short.key })).items).toEqual([]);
    expect((await h.listTracks({ jobKey: gone.key })).items).toHaveLength(1);
    expect((await before.get(MODEL))!.size).toBe(sizeBefore - 1);
    expect((await h.search.byVectors(MODEL, [Float32Array.from(personVector(4))], { jobKey: short.key })).identities).toEqual([]);
    clock += 2 * DAY;
    expect(await h.sweeper.sweep()).toMatchObject({ tracks: 1 });
    expect((await h.listTracks({ jobKey: gone.key })).items).toEqual([]);
    await h.close();
  });

  it('never blocks the ingest on a slow database and loses no track: trajectories get coarser instead', async () => {
    // The database does not answer at all until released: every ingest call must still return at once.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let committed = 0;
    const slowSql: SqlClient = {
      query: (t, p) => db.sql.query(t, p),
      exec: (s) => db.sql.exec(s),
      transaction: async (fn) => {
        await gate;
        const r = await db.sql.transaction(fn);
        committed++;
        return r;
      },
    };
    const h = service(slowSql, { flushRows: 200, maxPendingPoints: 400 });
    const { key, uid } = makeJob(jobs, 'backpressure');
    // 60 tracks at 10 fps for 20 s of video, delivered as fast as possible.
    for (let s = 0; s < 200; s += 10) {
      const frames = Array.from({ length: 10 }, (_, i) => ({ t: (s + i) * 100, tracks: Array.from({ length: 60 }, (_, k) => ({ id: k + 1, g: `P${k + 1}` })) }));
      const returned: unknown = h.sink.observations(batch(key, uid, 'left', frames, { embeddings: [{ id: 1 + (s % 60), vector: personVector(s) }] }));
      expect(returned).toBeUndefined(); // buffered, not a promise the caller could wait on
      expect(h.writer.stats().pendingPoints).toBeLessThanOrEqual(400 + 60 * 10);
      await new Promise((r) => setImmediate(r));
    }
    expect(committed).toBe(0); // all 20 batches were taken while the database had answered nothing
    const st = h.writer.stats();
    expect(st.pointsCoalesced).toBeGreaterThan(0);
    expect(st.pointIntervalMs).toBeGreaterThan(500);
    release();
    await h.writer.close();
    const items = (await h.listTracks({ jobKey: key, limit: 500 })).items;
    expect(items).toHaveLength(60);
    for (const t of items) expect(t).toMatchObject({ startMs: 0, endMs: 19_900 });
    const [{ n }] = await db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM track_segments s JOIN tracks t ON t.id = s.track_id WHERE t.job_uid = $1`, [uid]);
    expect(n).toBeGreaterThan(0);
  });
});
