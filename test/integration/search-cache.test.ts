// The person-search index saved beside the database and loaded at the next start (server/history/person-search/index-cache.ts
// through EmbeddingIndexes), on both store modes: a restart loads the file and catches up with what changed in
// the table meanwhile (new rows, rows deleted by the retention sweep, vectors rewritten in place) and answers
// exactly as an index built fresh from the table; a damaged or mismatched cache is reported and rebuilt.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, SqlClient } from '../../server/store/db.ts';
import type { Logger } from '../../server/log.ts';
import { silentLogger } from '../../server/log.ts';
import { EmbeddingIndexes, type IndexSetup } from '../../server/history/person-search/indexes.ts';
import { RetentionSweeper } from '../../server/history/retention.ts';
import { CACHE_FILE, modelCacheDir, resolveIndexCacheRoot, type CacheManifest } from '../../server/history/person-search/index-cache.ts';
import type { HnswOptions, SearchFilter } from '../../server/vector-index/index.ts';
import { SyntheticEmbeddings, insertSynthetic } from '../support/synthetic-embeddings.ts';
import { databaseModes } from '../support/postgres.ts';

const DIM = 64;
const N = 3000;
const ADDED = 150;
const MODEL = 'osnet_x0_25_msmt17';
// Graph from 500 entries on (3k would otherwise be an exact scan). ef above the entry count makes a graph
// search visit every reachable node: the graph is built by several threads, so two builds differ, and only
// an exhaustive search lets the cached and the fresh index be held to the same top-10.
const OPTS: HnswOptions = { exactThreshold: 500, expansionSearch: 4096 };
const syn = new SyntheticEmbeddings({ n: N + ADDED, dim: DIM, seed: 5 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-search-cache-'));
afterAll(async () => {
  await stopPostgres();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Records what the indexes log, and the SQL they send (to see which vector encoding they read). */
function recorder(sql: SqlClient) {
  const lines: string[] = [];
  const queries: string[] = [];
  const log: Logger = {
    info: (m) => void lines.push(`info ${m}`),
    warn: (m) => void lines.push(`warn ${m}`),
    error: (m, ...r) => void lines.push(`error ${m} ${r.map(String).join(' ')}`),
    debug: () => undefined,
  };
  const spy: SqlClient = {
    query: (text, params) => {
      queries.push(text);
      return sql.query(text, params);
    },
    exec: (s) => sql.exec(s),
    transaction: (fn) => sql.transaction(fn),
  };
  return { lines, queries, log, sql: spy };
}

/** Samples [from, to) of `syn` as new rows (ids from the sequence), as the writer would insert them. */
async function insertMore(sql: SqlClient, from: number, to: number): Promise<number[]> {
  const ids: number[] = [];
  for (const c of syn.chunks(1000)) {
    for (let i = 0; i < c.count; i++) {
      const s = c.first + i;
      if (s < from || s >= to) continue;
      const m = c.metas[i];
      const [t] = await sql.query<{ id: string }>(
        `INSERT INTO tracks (job_uid, job_key, camera, local_id, start_ms, end_ms) VALUES ($1, 'bench/job', $2, $3, $4, $5) RETURNING id`,
        [m.jobUid, m.camera, 1_000_000 + s, m.startMs, m.endMs],
      );
      const [e] = await sql.query<{ id: string }>(`INSERT INTO embeddings (track_id, t_ms, model, dim, vector) VALUES ($1, $2, $3, $4, $5::real[]) RETURNING id`, [
        t.id,
        m.startMs,
        MODEL,
        DIM,
        Array.from(c.vectors.subarray(i * DIM, (i + 1) * DIM)),
      ]);
      ids.push(Number(e.id));
    }
  }
  return ids;
}

const readCache = (root: string): CacheManifest => JSON.parse(fs.readFileSync(path.join(modelCacheDir(root, MODEL), CACHE_FILE), 'utf8'));

const { modes, stop: stopPostgres } = databaseModes(tmp);

describe.each(modes)('search index cache on %s', (name, open) => {
  let db: Database;
  let setup: (log: Logger, root: string, extra?: Partial<NonNullable<IndexSetup['cache']>>) => IndexSetup;
  const root = path.join(tmp, `cache-${name}`);
  const deleted = new Set<number>();
  const rewritten = 100;
  const newVector = Array.from({ length: DIM }, (_, j) => Math.cos(j * 0.7) + 0.2);
  let fresh: EmbeddingIndexes;
  /** Queries: people (old and new), a deleted row's own vector, the rewritten vector; each with every filter kind. */
  let probes: Array<{ vector: ArrayLike<number>; filter: SearchFilter }>;

  beforeAll(async () => {
    db = await open();
    setup = (log, dir, extra = {}) => ({ binaryVectors: db.kind === 'postgresql', cache: { dir, ...extra }, log });
    await insertSynthetic(db.sql, new SyntheticEmbeddings({ ...syn.o, n: N }), MODEL);
    // Written over the days before (two minutes apart, the newest two days ago): only what the test touches
    // later, and the newest track (within the one-minute margin of the save's mark), count as written since.
    await db.sql.query(`UPDATE tracks SET seen_at = now() - interval '2 days' - ($1 - id) * interval '2 minutes'`, [N]);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('restarts from the saved file plus the changed rows, answering exactly like a fresh build from the table', async () => {
    // First run: nothing saved yet, so the index comes from the table, and is saved once its graph is built.
    const first = recorder(db.sql);
    const a = new EmbeddingIndexes(first.sql, OPTS);
    a.configure(setup(first.log, root));
    const idxA = (await a.get(MODEL))!;
    expect(a.origin(MODEL)).toMatchObject({ from: 'database', rows: N });
    expect(first.lines.join('\n')).toContain('no saved index yet');
    await idxA.flush();
    expect(idxA.stats().graphSize).toBe(N);
    await a.close();
    const saved = readCache(root);
    expect(saved).toMatchObject({ model: MODEL, dim: DIM, count: N, highWaterId: N, format: 'mei-index-cache', version: 1 });
    expect(Object.keys(saved.files).sort()).toEqual(['alive.bin', 'camera.bin', 'end.bin', 'graph.usearch', 'ids.bin', 'job.bin', 'manifest.json', 'start.bin', 'vectors.f32']);
    expect(first.queries.some((q) => q.includes('array_send'))).toBe(db.kind === 'postgresql');

    // While the server is down: new rows, the retention sweep deletes old tracks (among them the highest id),
    // and the writer rewrites a representative vector in place (with its track's seen_at).
    const added = await insertMore(db.sql, N, N + ADDED);
    for (const id of [...Array.from({ length: 49 }, (_, i) => 10 + i), N]) deleted.add(id);
    await db.sql.query(`UPDATE tracks SET seen_at = now() - interval '40 days' WHERE id = ANY($1::bigint[])`, [[...deleted].map(String)]);
    const swept = await new RetentionSweeper({ sql: db.sql, jobs: () => [], log: silentLogger }).sweep();
    expect(swept.embeddings).toBe(deleted.size);
    await db.sql.query(`UPDATE embeddings SET vector = $2::real[] WHERE id = $1`, [rewritten, newVector]);
    await db.sql.query(`UPDATE tracks SET seen_at = now() WHERE id = $1`, [rewritten]);

    // Restart: the saved index is loaded at configure() (warm), then only the changes are read.
    const second = recorder(db.sql);
    const b = new EmbeddingIndexes(second.sql, OPTS);
    b.configure(setup(second.log, root));
    await b.whenWarm();
    const origin = b.origin(MODEL);
    expect(origin).toMatchObject({ from: 'cache', rows: N + ADDED - deleted.size });
    expect(origin?.from === 'cache' && origin.restored.sync).toEqual({ loaded: ADDED, lastId: Math.max(...added), removed: deleted.size, refreshed: 1 });
    expect(second.lines.join('\n')).toMatch(new RegExp(`${N} entries from .*then ${ADDED} new, 1 re-read and ${deleted.size} deleted rows`));
    // PostgreSQL reads the changed rows in the binary array format, PGlite as real[] text.
    expect(second.queries.some((q) => q.includes('array_send'))).toBe(db.kind === 'postgresql');
    const idxB = (await b.get(MODEL))!;
    await idxB.flush();

    fresh = new EmbeddingIndexes(db.sql, OPTS);
    const idxC = (await fresh.get(MODEL))!;
    expect(fresh.origin(MODEL)).toMatchObject({ from: 'database', rows: N + ADDED - deleted.size });
    await idxC.flush();
    expect([...idxB.ids()].sort((x, y) => x - y)).toEqual([...idxC.ids()].sort((x, y) => x - y));

    const day = 86_400_000;
    probes = [];
    const vectors: ArrayLike<number>[] = [...syn.queries(20, 17).map((q) => q.vector), idxA.vectorOf(20)!, idxA.vectorOf(N)!, newVector];
    for (const [i, q] of syn.queries(20, 17).entries()) {
      probes.push({ vector: vectors[i], filter: {} });
      probes.push({ vector: vectors[i], filter: { jobUids: [q.jobUid] } });
      probes.push({ vector: vectors[i], filter: { cameras: q.cameras, fromMs: q.timeMs - 3 * day, toMs: q.timeMs + 3 * day } });
    }
    for (const v of vectors.slice(20)) probes.push({ vector: v, filter: {} });
    const graphBefore = idxB.stats().searches.graph;
    // Both graphs are approximate (HNSW), built in different orders: they must agree with the exact answer
    // (recall), not with each other hit for hit.
    let found = { restored: 0, fresh: 0, wanted: 0 };
    for (const p of probes) {
      const got = await b.search(MODEL, p.vector, 10, p.filter);
      const want = await fresh.search(MODEL, p.vector, 10, p.filter);
      expect(got.size).toBe(want.size);
      const exact = idxC.searchExact(p.vector, 10, p.filter);
      const truth = new Map(exact.map((h) => [h.id, h.distance]));
      found = {
        restored: found.restored + got.hits.filter((h) => truth.has(h.id)).length,
        fresh: found.fresh + want.hits.filter((h) => truth.has(h.id)).length,
        wanted: found.wanted + exact.length,
      };
      // Whatever the restored index returns carries its current vector's exact distance, and is never deleted.
      for (const h of got.hits) if (truth.has(h.id)) expect(h.distance).toBeCloseTo(truth.get(h.id)!, 6);
      for (const h of got.hits) expect(deleted.has(h.id)).toBe(false);
    }
    expect(found.restored / found.wanted).toBeGreaterThanOrEqual(0.95);
    expect(found.fresh / found.wanted).toBeGreaterThanOrEqual(0.95);
    expect(idxB.stats().searches.graph - graphBefore).toBeGreaterThan(20); // answered by the restored graph
    // The rewritten row answers with its new vector; deleted rows are gone.
    expect((await b.search(MODEL, newVector, 1, {})).hits).toEqual([{ id: rewritten, distance: expect.closeTo(0, 5) }]);
    for (const id of deleted) expect(idxB.has(id)).toBe(false);
    for (const id of added) expect(idxB.has(id)).toBe(true);

    // Shut down again: the catch-up changed the index, so it is saved with the new rows.
    await b.close();
    expect(readCache(root)).toMatchObject({ count: N + ADDED - deleted.size, highWaterId: Math.max(...added) });
  });

  it('rejects a damaged, foreign or inconsistent cache with a logged reason and rebuilds from the table', async () => {
    const good = modelCacheDir(root, MODEL);
    const sha = (file: string) => import('node:crypto').then((c) => c.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    /** Rewrites cache.json's entry for a file after changing the file, so only the deeper checks can object. */
    const reseal = async (dir: string, name: string) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, CACHE_FILE), 'utf8')) as CacheManifest;
      m.files[name] = { bytes: fs.statSync(path.join(dir, name)).size, sha256: await sha(path.join(dir, name)) };
      fs.writeFileSync(path.join(dir, CACHE_FILE), JSON.stringify(m));
    };
    const editCache = (dir: string, edit: (m: CacheManifest) => void) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, CACHE_FILE), 'utf8')) as CacheManifest;
      edit(m);
      fs.writeFileSync(path.join(dir, CACHE_FILE), JSON.stringify(m));
    };
    const damages: Array<[string, (dir: string) => void | Promise<void>, RegExp]> = [
      [
        'a flipped byte in the vectors',
        (dir) => {
          const f = path.join(dir, 'vectors.f32');
          const fd = fs.openSync(f, 'r+');
          const b = Buffer.alloc(1);
          fs.readSync(fd, b, 0, 1, 4000);
          b[0] ^= 0x40;
          fs.writeSync(fd, b, 0, 1, 4000);
          fs.closeSync(fd);
        },
        /vectors\.f32 fails its checksum/,
      ],
      ['a truncated graph', (dir) => fs.truncateSync(path.join(dir, 'graph.usearch'), 1000), /graph\.usearch has 1000 bytes, cache\.json says \d+/],
      ['a missing column file', (dir) => fs.rmSync(path.join(dir, 'alive.bin')), /alive\.bin is missing/],
      ['cache.json cut short', (dir) => fs.writeFileSync(path.join(dir, CACHE_FILE), '{"format":"mei-index-c'), /cache\.json is not JSON/],
      ['another format version', (dir) => editCache(dir, (m) => (m.version = 99)), /not a mei-index-cache v1 manifest \(format mei-index-cache, version 99\)/],
      ['another database', (dir) => editCache(dir, (m) => (m.database = '1234/other/5678')), /saved from database 1234\/other\/5678, this is /],
      ['another dimension', (dir) => editCache(dir, (m) => (m.dim = 512)), /has 512 dimensions, the database's osnet_x0_25_msmt17 embeddings have 64/],
      [
        'index files that pass their checksums but disagree',
        async (dir) => {
          const f = path.join(dir, 'manifest.json');
          fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), live: 7 }));
          await reseal(dir, 'manifest.json');
        },
        /index files do not load: .*has \d+ live entries, the manifest says 7/,
      ],
      [
        'vectors that are not the table\'s (resealed)',
        async (dir) => {
          // Slot 0 (id 1, untouched since the save) is always among the spot-checked entries.
          const f = path.join(dir, 'vectors.f32');
          const buf = fs.readFileSync(f);
          const v = new Float32Array(buf.buffer, buf.byteOffset, DIM);
          for (let j = 0; j < DIM; j++) v[j] = -v[j];
          fs.writeFileSync(f, buf);
          await reseal(dir, 'vectors.f32');
        },
        /saved embedding 1 differs from the database's row/,
      ],
    ];
    const want = await fresh.search(MODEL, probes[0].vector, 10, {});
    for (const [what, damage, reason] of damages) {
      const dir = path.join(tmp, `damaged-${name}-${damages.findIndex((d) => d[0] === what)}`);
      fs.cpSync(good, modelCacheDir(dir, MODEL), { recursive: true });
      await damage(modelCacheDir(dir, MODEL));
      const rec = recorder(db.sql);
      const x = new EmbeddingIndexes(rec.sql, OPTS);
      x.configure(setup(rec.log, dir, { warm: false }));
      const got = await x.search(MODEL, probes[0].vector, 10, {});
      const origin = x.origin(MODEL);
      expect(origin?.from, what).toBe('database');
      expect(origin?.from === 'database' && origin.cacheRejected, what).toMatch(reason);
      const warning = rec.lines.find((l) => l.startsWith('warn '));
      expect(warning, what).toMatch(/saved index not used: .*; rebuilding from the database/);
      expect(warning, what).toMatch(reason);
      expect(got.hits.map((h) => h.id), what).toEqual(want.hits.map((h) => h.id));
      await x.close();
      // The rebuild replaced the bad cache with a good one.
      const again = new EmbeddingIndexes(db.sql, OPTS);
      again.configure(setup(silentLogger, dir, { warm: false }));
      await again.get(MODEL);
      expect(again.origin(MODEL)?.from, what).toBe('cache');
      await again.close();
    }
  });

  it('saves on its schedule once enough entries changed, and follows the writer and the retention sweep', async () => {
    const dir = path.join(tmp, `scheduled-${name}`);
    fs.cpSync(modelCacheDir(root, MODEL), modelCacheDir(dir, MODEL), { recursive: true });
    const rec = recorder(db.sql);
    const x = new EmbeddingIndexes(rec.sql, OPTS);
    x.configure(setup(rec.log, dir, { saveAfterChanges: 5, checkEveryMs: 20 }));
    await x.whenWarm();
    expect(x.origin(MODEL)?.from).toBe('cache');
    await x.save(MODEL); // whatever the catch-up changed (rows written within the mark's margin are re-read)
    const before = readCache(dir);
    // What a process that died while saving left behind (pid 4194305 is above Linux's pid_max).
    const leftover = `${modelCacheDir(dir, MODEL)}.saving-4194305`;
    fs.mkdirSync(leftover);
    // Four rows committed by "the writer": under the threshold, so no save.
    const ids = await insertMore(db.sql, 0, 4);
    const rowsOf = async (list: number[]) =>
      (await db.sql.query<{ id: string; vector: number[]; job_uid: string; camera: string; start_ms: string; end_ms: string; track_id: string }>(
        `SELECT e.id, e.vector, e.track_id, t.job_uid, t.camera, t.start_ms, t.end_ms FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE e.id = ANY($1::bigint[]) ORDER BY e.id`,
        [list.map(String)],
      )).map((r) => ({ id: Number(r.id), trackId: Number(r.track_id), model: MODEL, vector: Float32Array.from(r.vector), jobUid: r.job_uid, camera: r.camera, startMs: Number(r.start_ms), endMs: Number(r.end_ms) }));
    x.upsert(await rowsOf(ids));
    await new Promise((r) => setTimeout(r, 200));
    expect(readCache(dir).savedAt).toBe(before.savedAt);
    // The sweep deletes one of them through the hook the history service wires: five changes, saved.
    await db.sql.query(`UPDATE tracks SET seen_at = now() - interval '40 days' WHERE id = (SELECT track_id FROM embeddings WHERE id = $1)`, [ids[0]]);
    const sweeper = new RetentionSweeper({ sql: db.sql, jobs: () => [], log: silentLogger, onEmbeddingsDeleted: (gone) => x.remove(gone) });
    expect((await sweeper.sweep()).embeddings).toBe(1);
    const deadline = Date.now() + 10_000;
    while (readCache(dir).savedAt === before.savedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const after = readCache(dir);
    expect(after.savedAt).not.toBe(before.savedAt);
    expect(after).toMatchObject({ count: before.count + 3, highWaterId: Math.max(...ids) });
    expect(rec.lines.join('\n')).toMatch(/saved \d+ entries to /);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([path.basename(modelCacheDir(dir, MODEL))]);
    await x.close();
    // Nothing changed since: close() does not rewrite it.
    expect(readCache(dir).savedAt).toBe(after.savedAt);
    await fresh.close();
  });
});

describe('where the cache lives', () => {
  it('is inside the PGlite data directory, <stateDir>/index with PostgreSQL, MEI_INDEX_DIR when set ("off": none)', () => {
    const base = { dataDir: '/var/mei/db', stateDir: '/var/mei' };
    expect(resolveIndexCacheRoot({ ...base, env: {}, kind: 'pglite' })).toBe('/var/mei/db/mei-index');
    expect(resolveIndexCacheRoot({ ...base, env: {}, kind: 'postgresql' })).toBe('/var/mei/index');
    expect(resolveIndexCacheRoot({ ...base, env: { MEI_INDEX_DIR: '/cache/idx' }, kind: 'postgresql' })).toBe('/cache/idx');
    expect(resolveIndexCacheRoot({ ...base, env: { MEI_INDEX_DIR: 'off' }, kind: 'pglite' })).toBeUndefined();
    // One directory per model, distinct even for names that slug alike.
    expect(modelCacheDir('/c', 'osnet-x0.25')).not.toBe(modelCacheDir('/c', 'osnet-x0_25'));
    expect(path.dirname(modelCacheDir('/c', '../../etc'))).toBe('/c');
  });
});
