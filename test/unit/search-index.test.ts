// Vector search: the HNSW index (usearch, real native module) against the exact scan on clustered ReID-like
// vectors; filters, persistence and removal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExactIndex, HnswIndex, loadUsearch, type SearchFilter, type VectorMeta } from '../../server/vector-index/index.ts';
import { quantiseI8 } from '../../server/vector-index/hnsw-index.ts';
import { SyntheticEmbeddings, type SyntheticQuery } from '../support/synthetic-embeddings.ts';

const DIM = 64; // small dim keeps the build to seconds; the code paths are the same as for 512
const N = 5000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-search-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const syn = new SyntheticEmbeddings({ n: N, dim: DIM, seed: 3 });
const metas = new Map<number, VectorMeta>();
let exact: ExactIndex;
let hnsw: HnswIndex;
let queries: SyntheticQuery[];

/** The filter's meaning, written independently of the store's compiled filter. */
function passes(m: VectorMeta, f: SearchFilter): boolean {
  return (
    (!f.jobUids || f.jobUids.includes(m.jobUid)) &&
    (!f.cameras || f.cameras.includes(m.camera)) &&
    (f.fromMs === undefined || m.endMs >= f.fromMs) &&
    (f.toMs === undefined || m.startMs <= f.toMs)
  );
}

function recallAt10(a: { id: number }[], truth: { id: number }[]): number {
  if (truth.length === 0) return 1;
  const t = new Set(truth.map((h) => h.id));
  return a.filter((h) => t.has(h.id)).length / truth.length;
}

/** Filters of every kind, from broad (a job) to very selective (one camera for an hour), plus no match. */
function filtersFor(q: SyntheticQuery, i: number): SearchFilter {
  const day = 24 * 3600_000;
  switch (i % 6) {
    case 0:
      return { jobUids: [q.jobUid] };
    case 1:
      return { jobUids: [q.jobUid], cameras: q.cameras.slice(0, 1) };
    case 2:
      return { fromMs: q.timeMs - 3 * day, toMs: q.timeMs + 3 * day };
    case 3:
      return { cameras: q.cameras, fromMs: q.timeMs - 3600_000, toMs: q.timeMs + 3600_000 };
    case 4:
      return { jobUids: [q.jobUid, syn.jobUid(7)], toMs: q.timeMs };
    default:
      return { jobUids: ['not-a-job'] };
  }
}

beforeAll(async () => {
  exact = new ExactIndex(DIM);
  // exactThreshold 100: the graph is built and used for every filter that leaves more than 100 entries.
  hnsw = new HnswIndex(DIM, { exactThreshold: 100 });
  for (const c of syn.chunks(2500))
    for (let i = 0; i < c.count; i++) {
      const v = c.vectors.subarray(i * DIM, (i + 1) * DIM);
      exact.add(c.first + i + 1, v, c.metas[i]);
      hnsw.add(c.first + i + 1, v, c.metas[i]);
      metas.set(c.first + i + 1, c.metas[i]);
    }
  await hnsw.flush();
  queries = syn.queries(120);
});

describe('HNSW index (usearch) vs exact scan', () => {
  it('loads the native module from the npm prebuilds and puts every vector in the graph', () => {
    expect(loadUsearch()).not.toBeNull();
    expect(hnsw.stats()).toMatchObject({ size: N, graphSize: N, pending: 0 });
  });

  it('has recall@10 >= 0.95 on 5k clustered vectors, unfiltered and filtered', () => {
    let plain = 0;
    let filtered = 0;
    for (const [i, q] of queries.entries()) {
      plain += recallAt10(hnsw.search(q.vector, 10), exact.search(q.vector, 10));
      const f = filtersFor(q, i);
      filtered += recallAt10(hnsw.search(q.vector, 10, f), exact.search(q.vector, 10, f));
    }
    expect(plain / queries.length).toBeGreaterThanOrEqual(0.95);
    expect(filtered / queries.length).toBeGreaterThanOrEqual(0.95);
  });

  it('returns exact cosine distances, nearest first', () => {
    const q = queries[0];
    const hits = hnsw.search(q.vector, 10);
    const truth = exact.search(q.vector, 10);
    const byId = new Map(truth.map((h) => [h.id, h.distance]));
    for (const h of hits) if (byId.has(h.id)) expect(h.distance).toBeCloseTo(byId.get(h.id)!, 5);
    for (let i = 1; i < hits.length; i++) expect(hits[i].distance).toBeGreaterThanOrEqual(hits[i - 1].distance);
    // The query is a fresh sample of one identity: its nearest entries are that identity's samples.
    expect(hits[0].distance).toBeLessThan(0.7);
  });

  it('never returns an entry outside the filter, and fills k when enough entries match', () => {
    const before = hnsw.stats().searches;
    for (const [i, q] of queries.entries()) {
      for (const index of [hnsw, exact]) {
        const f = filtersFor(q, i);
        const hits = index.search(q.vector, 10, f);
        for (const h of hits) expect(passes(metas.get(h.id)!, f), `id ${h.id} outside ${JSON.stringify(f)}`).toBe(true);
        let matching = 0;
        for (const m of metas.values()) if (passes(m, f)) matching++;
        expect(hits.length).toBe(Math.min(10, matching));
      }
    }
    // Both strategies were exercised: the graph for broad filters, the exact scan for selective ones.
    const after = hnsw.stats().searches;
    expect(after.graph - before.graph).toBeGreaterThan(40);
    expect(after.exact - before.exact).toBeGreaterThan(20);
  });

  it('treats an empty list as matching nothing and an open time range as unbounded', () => {
    const q = queries[1].vector;
    expect(hnsw.search(q, 10, { cameras: [] })).toEqual([]);
    expect(hnsw.search(q, 10, { fromMs: -Infinity, toMs: Infinity })).toEqual(hnsw.search(q, 10));
  });
});

describe('HNSW index lifecycle', () => {
  it('scans exactly below the threshold and builds no graph', async () => {
    const small = new HnswIndex(DIM); // default threshold 20k
    for (const c of syn.chunks(1000)) {
      for (let i = 0; i < c.count; i++) small.add(c.first + i + 1, c.vectors.subarray(i * DIM, (i + 1) * DIM), c.metas[i]);
      break;
    }
    await small.flush();
    expect(small.stats()).toMatchObject({ size: 1000, graphSize: 0 });
    const q = queries[2].vector;
    const truth = new ExactIndex(DIM);
    for (const c of syn.chunks(1000)) {
      for (let i = 0; i < c.count; i++) truth.add(c.first + i + 1, c.vectors.subarray(i * DIM, (i + 1) * DIM), c.metas[i]);
      break;
    }
    expect(small.search(q, 10, { jobUids: [queries[2].jobUid] })).toEqual(truth.search(q, 10, { jobUids: [queries[2].jobUid] }));
  });

  it('finds entries added after the graph was built before they reach the graph', () => {
    const q = queries[3];
    const id = 10_000_001;
    hnsw.add(id, q.vector, { jobUid: 'fresh-job', camera: 'fresh-cam', startMs: 1, endMs: 2 });
    expect(hnsw.stats().pending).toBeGreaterThan(0);
    expect(hnsw.search(q.vector, 1)[0]).toEqual({ id, distance: expect.closeTo(0, 5) });
    expect(hnsw.search(q.vector, 3, { jobUids: ['fresh-job'] }).map((h) => h.id)).toEqual([id]);
    hnsw.flushSync();
    expect(hnsw.stats().pending).toBe(0);
    expect(hnsw.search(q.vector, 1)[0].id).toBe(id);
    expect(hnsw.remove(id)).toBe(true);
  });

  it('removes entries from results and replaces an entry added again under its id', () => {
    const q = queries[4];
    const before = hnsw.search(q.vector, 10);
    const gone = before.slice(0, 3).map((h) => h.id);
    for (const id of gone) expect(hnsw.remove(id)).toBe(true);
    expect(hnsw.remove(gone[0])).toBe(false);
    expect(hnsw.size).toBe(N - 3);
    expect(hnsw.stats().graphSize).toBe(N - 3);
    const after = hnsw.search(q.vector, 10);
    expect(after.map((h) => h.id)).not.toContain(gone[0]);
    expect(after.some((h) => gone.includes(h.id))).toBe(false);
    expect(after.map((h) => h.id).slice(0, 7)).toEqual(before.map((h) => h.id).slice(3, 10));
    // Re-adding with new metadata: only the new version is found.
    const m = metas.get(gone[0])!;
    hnsw.add(gone[0], q.vector, { ...m, camera: 'moved' });
    expect(hnsw.search(q.vector, 1, { cameras: ['moved'] })[0].id).toBe(gone[0]);
    expect(hnsw.search(q.vector, 10, { cameras: [m.camera] }).map((h) => h.id)).not.toContain(gone[0]);
    hnsw.remove(gone[0]);
    hnsw.flushSync();
  });

  it('round-trips through save/load with the graph and the removals', () => {
    const dir = path.join(tmp, 'idx');
    hnsw.save(dir);
    hnsw.save(dir); // replacing an existing index
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('idx'))).toEqual(['idx']);
    const loaded = new HnswIndex(DIM, { exactThreshold: 100 });
    loaded.load(dir);
    expect(loaded.stats()).toMatchObject({ size: hnsw.size, graphSize: hnsw.size, pending: 0 });
    for (const [i, q] of queries.slice(0, 30).entries()) {
      const f = filtersFor(q, i);
      expect(loaded.search(q.vector, 10, f)).toEqual(hnsw.search(q.vector, 10, f));
    }
    // The exact index reads the same directory (it ignores the graph).
    const asExact = new ExactIndex(DIM);
    asExact.load(dir);
    expect(asExact.size).toBe(hnsw.size);
    expect(asExact.search(queries[5].vector, 10)).toEqual(exact.search(queries[5].vector, 10).filter((h) => hnsw.has(h.id)).slice(0, 10));
  });

  it('saveInto writes the index as of the call while it keeps changing (vectors written asynchronously)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'into-'));
    const before = queries.slice(0, 10).map((q, i) => hnsw.search(q.vector, 10, filtersFor(q, i)));
    const size = hnsw.size;
    const victim = [...hnsw.ids()][3];
    const saving = hnsw.saveInto(dir);
    // Changes after the call (while the files are written) must not reach them.
    const m = metas.get(victim)!;
    hnsw.remove(victim);
    hnsw.add(9_000_001, queries[0].vector, { ...m, camera: 'late' });
    await saving;
    hnsw.remove(9_000_001);
    hnsw.add(victim, syn.queries(1, 99)[0].vector, m); // any vector: the id is back, the save has the old one
    hnsw.flushSync();
    const loaded = new HnswIndex(DIM, { exactThreshold: 100 });
    loaded.load(dir);
    expect(loaded.stats()).toMatchObject({ size, graphSize: size, pending: 0 });
    expect(loaded.has(9_000_001)).toBe(false);
    expect(loaded.has(victim)).toBe(true);
    queries.slice(0, 10).forEach((q, i) => expect(loaded.search(q.vector, 10, filtersFor(q, i))).toEqual(before[i]));
    // Put the fixture back as it was for the tests below.
    hnsw.remove(victim);
    hnsw.add(victim, loaded.vectorOf(victim)!, m);
    hnsw.flushSync();
  });

  it('rebuilds the graph when loading an index saved with other graph parameters', async () => {
    const dir = path.join(tmp, 'idx');
    const other = new HnswIndex(DIM, { exactThreshold: 100, quantization: 'f32' });
    other.load(dir);
    expect(other.stats().pending).toBe(other.size);
    await other.flush();
    expect(other.stats().graphSize).toBe(hnsw.size);
    const q = queries[6].vector;
    expect(recallAt10(other.search(q, 10), hnsw.search(q, 10))).toBeGreaterThanOrEqual(0.9);
  });

  it('rejects a damaged or mismatched saved index with a clear error', () => {
    const dir = path.join(tmp, 'idx');
    expect(() => new HnswIndex(DIM + 1).load(dir)).toThrow(/has 64 dimensions, this index has 65/);
    const bad = path.join(tmp, 'bad');
    fs.cpSync(dir, bad, { recursive: true });
    fs.truncateSync(path.join(bad, 'vectors.f32'), 100);
    expect(() => new ExactIndex(DIM).load(bad)).toThrow(/vectors\.f32 has 100 bytes/);
    fs.writeFileSync(path.join(bad, 'manifest.json'), '{"format":"other"}');
    expect(() => new ExactIndex(DIM).load(bad)).toThrow(/not a mei-vector-index v1 manifest/);
    expect(() => new ExactIndex(DIM).load(path.join(tmp, 'missing'))).toThrow(/cannot read vector index manifest/);
  });
});

describe('input checks', () => {
  const idx = new ExactIndex(4);
  const meta = { jobUid: 'j', camera: 'c', startMs: 0, endMs: 1 };
  it('names the bad field', () => {
    expect(() => idx.add(1, [1, 2, 3], meta)).toThrow(/vector has 3 dimensions, the index has 4/);
    expect(() => idx.add(1, [1, NaN, 0, 0], meta)).toThrow(/vector\[1\] is not a finite number/);
    expect(() => idx.add(1, [0, 0, 0, 0], meta)).toThrow(/vector is all zeros/);
    expect(() => idx.add(-1, [1, 0, 0, 0], meta)).toThrow(/id must be a non-negative safe integer/);
    expect(() => idx.add(1, [1, 0, 0, 0], { ...meta, camera: '' })).toThrow(/meta\.camera/);
    expect(() => idx.add(1, [1, 0, 0, 0], { ...meta, startMs: 5 })).toThrow(/meta\.startMs \(5\) is after meta\.endMs/);
    expect(() => idx.search([1, 0, 0], 3)).toThrow(/query has 3 dimensions/);
    expect(() => idx.search([1, 0, 0, 0], 0)).toThrow(/k must be an integer/);
    expect(() => idx.search([1, 0, 0, 0], 3, { cameras: 'c' as unknown as string[] })).toThrow(/filter\.cameras must be an array of strings/);
    expect(() => idx.search([1, 0, 0, 0], 3, { fromMs: 5, toMs: 1 })).toThrow(/filter\.fromMs \(5\) is after filter\.toMs/);
    expect(() => new HnswIndex(4, { quantization: 'u4' as 'i8' })).toThrow(/options\.quantization/);
  });
  it('quantises for the graph with a per-vector scale (full int8 range, sign and ratios kept)', () => {
    const v = new Float32Array([0.5, -0.25, 0.01, -1]);
    expect([...quantiseI8(v, new Int8Array(4))]).toEqual([64, -32, 1, -127]);
    expect([...quantiseI8(new Float32Array(4), new Int8Array(4))]).toEqual([0, 0, 0, 0]);
  });
  it('normalises vectors so that scale does not matter', () => {
    idx.add(7, [10, 0, 0, 0], meta);
    idx.add(8, [0, 3, 0, 0], meta);
    expect(idx.search([0.5, 0.5, 0, 0], 2)).toEqual([
      { id: 7, distance: expect.closeTo(1 - Math.SQRT1_2, 6) },
      { id: 8, distance: expect.closeTo(1 - Math.SQRT1_2, 6) },
    ]);
  });
});
