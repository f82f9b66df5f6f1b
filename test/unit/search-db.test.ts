// Loading the vector index from the database (the source of truth) in both store modes: embedded PGlite and
// a real PostgreSQL server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../../server/store/db.ts';
import { ExactIndex, HnswIndex } from '../../server/vector-index/index.ts';
import { loadEmbeddings, syncEmbeddings } from '../../server/history/person-search/embedding-loader.ts';
import { SyntheticEmbeddings, insertSynthetic } from '../support/synthetic-embeddings.ts';
import { databaseModes } from '../support/postgres.ts';

const DIM = 32;
const N = 600;
const MODEL = 'osnet_x0_25_msmt17';
const syn = new SyntheticEmbeddings({ n: N, dim: DIM, seed: 11 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-search-db-'));
afterAll(async () => {
  await stopPostgres();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The same data built in memory, without the database. */
function inMemory(): ExactIndex {
  const idx = new ExactIndex(DIM);
  for (const c of syn.chunks()) for (let i = 0; i < c.count; i++) idx.add(c.first + i + 1, c.vectors.subarray(i * DIM, (i + 1) * DIM), c.metas[i]);
  return idx;
}

const { modes, stop: stopPostgres } = databaseModes(tmp);

describe.each(modes)('loadEmbeddings from %s', (_name, open) => {
  it('fills the index with one model\'s embeddings, in pages, resumable after an id', async () => {
    const db = await open();
    try {
      await insertSynthetic(db.sql, syn, MODEL, 100);
      // Another model's rows (other dimension) must not be mixed in.
      const [{ id: trackId }] = await db.sql.query<{ id: string }>(
        `INSERT INTO tracks (job_uid, job_key, camera, local_id, start_ms, end_ms) VALUES ($1, 'x/y', 'cam-x', 1, 1, 2) RETURNING id`,
        [syn.jobUid(0)],
      );
      await db.sql.query(`INSERT INTO embeddings (track_id, t_ms, model, dim, vector) VALUES ($1, 1, 'histogram', 3, $2::real[])`, [trackId, [1, 2, 3]]);

      const idx = new HnswIndex(DIM, { exactThreshold: 200 });
      const pages: number[] = [];
      const binaryVectors = db.kind === 'postgresql';
      const r = await loadEmbeddings(db.sql, idx, { model: MODEL, pageSize: 128, binaryVectors, onPage: (n) => void pages.push(n) });
      expect(r).toEqual({ loaded: N, lastId: N });
      expect(pages).toEqual([128, 256, 384, 512, 600]);
      expect(idx.size).toBe(N);
      await idx.flush();
      expect(idx.stats().graphSize).toBe(N);

      // Same answers as the data built in memory: vectors (real[] = float32) and metadata survive the trip.
      const mem = inMemory();
      for (const q of syn.queries(10)) {
        const f = { jobUids: [q.jobUid], fromMs: q.timeMs - 3600_000, toMs: q.timeMs + 3600_000 };
        const want = mem.search(q.vector, 5, f);
        expect(want.length).toBeGreaterThan(0);
        const got = idx.search(q.vector, 5, f);
        expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
        got.forEach((h, i) => expect(h.distance).toBeCloseTo(want[i].distance, 5));
      }

      // Both vector encodings read the same floats, in either database.
      const rest = new ExactIndex(DIM);
      expect(await loadEmbeddings(db.sql, rest, { model: MODEL, afterId: 450, binaryVectors: !binaryVectors })).toEqual({ loaded: 150, lastId: N });
      for (let id = 1; id <= 450; id++) mem.remove(id);
      for (const q of syn.queries(5)) {
        const got = rest.search(q.vector, 5, { jobUids: [q.jobUid] });
        expect(got.map((h) => h.id)).toEqual(mem.search(q.vector, 5, { jobUids: [q.jobUid] }).map((h) => h.id));
      }
      expect(rest.has(450)).toBe(false);
      expect(rest.has(451)).toBe(true);
      expect(await loadEmbeddings(db.sql, rest, { model: 'no-such-model', afterId: 7 })).toEqual({ loaded: 0, lastId: 7 });

      // A saved index catches up with rows added and deleted while it was on disk.
      const dir = path.join(tmp, `saved-${db.kind}`);
      idx.save(dir);
      await db.sql.query(`DELETE FROM embeddings WHERE id IN (3, 5, 599)`);
      const [{ id: newTrack }] = await db.sql.query<{ id: string }>(
        `INSERT INTO tracks (job_uid, job_key, camera, local_id, start_ms, end_ms) VALUES ($1, 'x/y', 'cam-new', 2, 10, 20) RETURNING id`,
        [syn.jobUid(1)],
      );
      const fresh = Array.from({ length: DIM }, (_, j) => Math.cos(j));
      const [{ id: newId }] = await db.sql.query<{ id: string }>(
        `INSERT INTO embeddings (track_id, t_ms, model, dim, vector) VALUES ($1, 10, $2, $3, $4::real[]) RETURNING id`,
        [newTrack, MODEL, DIM, fresh],
      );
      const reopened = new HnswIndex(DIM, { exactThreshold: 200 });
      reopened.load(dir);
      expect(reopened.stats()).toMatchObject({ size: N, pending: 0 });
      expect(await syncEmbeddings(db.sql, reopened, { model: MODEL })).toEqual({ loaded: 1, lastId: Number(newId), removed: 3, refreshed: 0 });
      expect(reopened.size).toBe(N - 3 + 1);
      expect(reopened.has(5) || reopened.has(599)).toBe(false);
      expect(reopened.search(fresh, 1, { cameras: ['cam-new'] })).toEqual([{ id: Number(newId), distance: expect.closeTo(0, 5) }]);
      expect(await syncEmbeddings(db.sql, reopened, { model: MODEL })).toEqual({ loaded: 0, lastId: Number(newId), removed: 0, refreshed: 0 });

      await expect(loadEmbeddings(db.sql, new ExactIndex(16), { model: MODEL })).rejects.toThrow(/embedding 1 \(model osnet_x0_25_msmt17\) has 32 dimensions, the index has 16/);
      await expect(loadEmbeddings(db.sql, rest, { model: '' })).rejects.toThrow(/model must be a non-empty string/);
    } finally {
      await db.close();
    }
  });
});
