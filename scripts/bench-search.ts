// Vector search benchmark: builds the HNSW index over N synthetic ReID-like embeddings (streamed, see
// test/support/synthetic-embeddings.ts for how they are made), then times filtered searches and measures their
// recall@10 against an exact scan. Optionally times loading embeddings from the database (both store modes).
//
//   npm run bench:search -- --n 1000000 --json [--dim 512] [--queries 200] [--quantization i8|f16|f32]
//       [--m 16] [--efc 64] [--ef 128] [--threshold 20000] [--threads N] [--profile osnet|isotropic] [--save]
//       [--db pglite,postgresql --db-n 20000 [--cold]]
//
// --cold (with --db): cold start of the server's index, rebuild from the table vs the saved cache
// (server/history/person-search/index-cache.ts): rebuild (read + graph), save, then 1% new rows, 0.5% deleted and 0.1%
// rewritten in place, then restore (check + load + catch-up) and the graph for the new rows.
//
// Latency is wall time of one search on this (shared) machine; CPU time is reported too, and the load average
// at start and end, because other processes compete for the cores.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HnswIndex, type Quantization, type SearchFilter } from '../server/vector-index/index.ts';
import { loadEmbeddings } from '../server/history/person-search/embedding-loader.ts';
import { restoreIndexCache, saveIndexCache } from '../server/history/person-search/index-cache.ts';
import { SyntheticEmbeddings, insertSynthetic, type SyntheticQuery } from '../test/support/synthetic-embeddings.ts';

const { values: a } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '512' },
    queries: { type: 'string', default: '200' },
    k: { type: 'string', default: '10' },
    quantization: { type: 'string', default: 'i8' },
    m: { type: 'string', default: '16' },
    efc: { type: 'string', default: '64' },
    ef: { type: 'string', default: '128' },
    threshold: { type: 'string', default: '20000' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    seed: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'osnet' },
    save: { type: 'boolean', default: false },
    db: { type: 'string', default: '' },
    'db-n': { type: 'string', default: '20000' },
    cold: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

function int(name: keyof typeof a, min: number): number {
  const v = Number(a[name]);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min} (got ${String(a[name])})`);
  return v;
}
const n = int('n', 1);
const dim = int('dim', 2);
const nq = int('queries', 1);
const k = int('k', 1);
const seed = int('seed', 0);
const quantization = a.quantization as Quantization;
if (!['i8', 'f16', 'f32'].includes(quantization)) throw new Error(`--quantization must be i8, f16 or f32 (got ${quantization})`);
const profile = a.profile as 'osnet' | 'isotropic';
if (profile !== 'osnet' && profile !== 'isotropic') throw new Error(`--profile must be osnet or isotropic (got ${profile})`);
const dbModes = a.db ? a.db.split(',') : [];
for (const m of dbModes) if (m !== 'pglite' && m !== 'postgresql') throw new Error(`--db takes pglite and/or postgresql (got ${m})`);

const log = (msg: string) => process.stderr.write(`[bench-search] ${msg}\n`);
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const secs = (ms: number) => Math.round(ms / 10) / 100;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 100) / 100;
};
const cpuMs = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

/** The filter mix: a job; a job and its cameras; a job and two weeks; one camera for a day (selective). */
const FILTER_KINDS = ['job', 'job+cameras', 'job+2weeks', 'camera+1day'] as const;
function filterFor(q: SyntheticQuery, i: number): { kind: (typeof FILTER_KINDS)[number]; filter: SearchFilter } {
  const day = 24 * 3600_000;
  const kind = FILTER_KINDS[i % FILTER_KINDS.length];
  switch (kind) {
    case 'job':
      return { kind, filter: { jobUids: [q.jobUid] } };
    case 'job+cameras':
      return { kind, filter: { jobUids: [q.jobUid], cameras: q.cameras } };
    case 'job+2weeks':
      return { kind, filter: { jobUids: [q.jobUid], fromMs: q.timeMs - 7 * day, toMs: q.timeMs + 7 * day } };
    default:
      return { kind, filter: { cameras: [q.cameras[0]], fromMs: q.timeMs - day / 2, toMs: q.timeMs + day / 2 } };
  }
}

async function benchIndex() {
  const loadStart = os.loadavg()[0];
  const rss0 = process.memoryUsage().rss;
  const syn = new SyntheticEmbeddings({ n, dim, seed, profile });
  const index = new HnswIndex(dim, {
    connectivity: int('m', 2),
    expansionAdd: int('efc', 1),
    expansionSearch: int('ef', 1),
    exactThreshold: int('threshold', 0),
    threads: int('threads', 1),
    quantization,
  });

  // Build: generation is timed apart so buildSeconds is the index's own cost.
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let genMs = 0;
  let lastLog = t0;
  const it = syn.chunks(10_000);
  for (;;) {
    const g = performance.now();
    const next = it.next();
    genMs += performance.now() - g;
    if (next.done) break;
    const c = next.value;
    for (let i = 0; i < c.count; i++) index.add(c.first + i + 1, c.vectors.subarray(i * dim, (i + 1) * dim), c.metas[i]);
    await new Promise((r) => setImmediate(r)); // lets the graph builder take a batch between chunks
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      const s = index.stats();
      log(`${s.size} stored, ${s.graphSize} in graph, ${secs(performance.now() - t0)} s, load ${os.loadavg()[0].toFixed(1)}`);
    }
  }
  const progress = setInterval(() => {
    const s = index.stats();
    log(`graph ${s.graphSize}/${s.size}, ${secs(performance.now() - t0)} s, load ${os.loadavg()[0].toFixed(1)}`);
  }, 60_000);
  await index.flush();
  clearInterval(progress);
  const buildMs = performance.now() - t0 - genMs;
  const buildCpuMs = cpuMs(c0);
  const mem = process.memoryUsage();
  log(`built ${n} in ${secs(buildMs)} s (+${secs(genMs)} s generating), rss ${mb(mem.rss)} MB`);

  // Queries: warm up, then time each one alone.
  const queries = syn.queries(nq, seed + 1000);
  for (const q of queries.slice(0, 5)) index.search(q.vector, k, filterFor(q, 0).filter);
  const before = index.stats().searches;
  const byKind = new Map<string, { ms: number[]; recall: number[] }>();
  const all = { ms: [] as number[], cpu: [] as number[], recall: [] as number[] };
  let exactMs = 0;
  for (const [i, q] of queries.entries()) {
    const { kind, filter } = filterFor(q, i);
    const cs = process.cpuUsage();
    const ts = performance.now();
    const hits = index.search(q.vector, k, filter);
    const ms = performance.now() - ts;
    all.cpu.push(cpuMs(cs));
    const te = performance.now();
    const truth = index.searchExact(q.vector, k, filter);
    exactMs += performance.now() - te;
    const want = new Set(truth.map((h) => h.id));
    const recall = truth.length ? hits.filter((h) => want.has(h.id)).length / truth.length : 1;
    all.ms.push(ms);
    all.recall.push(recall);
    const b = byKind.get(kind) ?? { ms: [], recall: [] };
    b.ms.push(ms);
    b.recall.push(recall);
    byKind.set(kind, b);
  }
  const after = index.stats().searches;
  const unfiltered: number[] = [];
  const unfilteredRecall: number[] = [];
  for (const q of queries.slice(0, Math.min(50, nq))) {
    const ts = performance.now();
    const hits = index.search(q.vector, k);
    unfiltered.push(performance.now() - ts);
    const want = new Set(index.searchExact(q.vector, k).map((h) => h.id));
    unfilteredRecall.push(hits.filter((h) => want.has(h.id)).length / want.size);
  }
  const mean = (xs: number[]) => Math.round((xs.reduce((s, x) => s + x, 0) / xs.length) * 1000) / 1000;

  let persist: Record<string, number> | undefined;
  if (a.save) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-bench-search-'));
    try {
      let ts = performance.now();
      index.save(path.join(dir, 'index'));
      const saveMs = performance.now() - ts;
      const bytes = fs.readdirSync(path.join(dir, 'index')).reduce((s, f) => s + fs.statSync(path.join(dir, 'index', f)).size, 0);
      const graphBytes = fs.statSync(path.join(dir, 'index', 'graph.usearch')).size;
      ts = performance.now();
      const again = new HnswIndex(dim, index.options);
      again.load(path.join(dir, 'index'));
      const loadMs = performance.now() - ts;
      if (again.size !== index.size || again.stats().pending !== 0) throw new Error('reloaded index differs');
      persist = { saveSeconds: secs(saveMs), loadSeconds: secs(loadMs), diskMB: mb(bytes), graphFileMB: mb(graphBytes) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const s = index.stats();
  return {
    n,
    dim,
    k,
    queries: nq,
    data:
      `synthetic ReID-like, profile "${profile}" (test/support/synthetic-embeddings.ts): ${syn.identities} identities (N/${syn.o.perIdentity}), ` +
      `${syn.o.styles} shared appearance styles, ${syn.o.jobs} jobs x ${syn.o.camerasPerJob} cameras, per-camera offsets, 20% occluded samples; ` +
      (profile === 'osnet'
        ? 'calibrated on real OSNet embeddings (shared mean direction, identity/camera/noise in a 64-d subspace + small isotropic noise)'
        : 'identity, camera and noise directions isotropic in all dims (harder than real embeddings)'),
    filters: `cycled per query: ${FILTER_KINDS.join(', ')} (the query person's own job/cameras/time)`,
    index: { kind: 'hnsw (usearch 2.26, cosine)', ...s.params, threads: index.options.threads },
    buildSeconds: secs(buildMs),
    buildCpuSeconds: secs(buildCpuMs),
    generateSeconds: secs(genMs),
    p50Ms: pct(all.ms, 50),
    p95Ms: pct(all.ms, 95),
    p99Ms: pct(all.ms, 99),
    cpuP50Ms: pct(all.cpu, 50),
    cpuP95Ms: pct(all.cpu, 95),
    recallAt10: mean(all.recall),
    minRecallAt10: Math.min(...all.recall),
    byFilter: Object.fromEntries(
      [...byKind].map(([kind, b]) => [kind, { p50Ms: pct(b.ms, 50), p95Ms: pct(b.ms, 95), recallAt10: mean(b.recall) }]),
    ),
    strategies: {
      exact: after.exact - before.exact,
      graph: after.graph - before.graph,
      retries: after.retries - before.retries,
      fallbacks: after.fallbacks - before.fallbacks,
    },
    unfiltered: { p50Ms: pct(unfiltered, 50), p95Ms: pct(unfiltered, 95), recallAt10: mean(unfilteredRecall) },
    exactScanMeanMs: Math.round((exactMs / nq) * 100) / 100,
    memoryMB: mb(mem.rss - rss0),
    rssMB: mb(mem.rss),
    vectorStoreMB: Math.round(s.storeMB),
    ...(persist && { persist }),
    loadAvg: { start: Math.round(loadStart * 100) / 100, end: Math.round(os.loadavg()[0] * 100) / 100, cores: os.availableParallelism() },
  };
}

/** Both store modes: write dbN embeddings, then time reading them back into a fresh index. */
async function benchDatabase(mode: string) {
  const dbN = int('db-n', 1);
  const loadStart = os.loadavg()[0];
  const { openDatabase } = await import('../server/store/db.ts');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-bench-db-'));
  let pgServer: { url: string; stop(): Promise<void> } | undefined;
  try {
    if (mode === 'postgresql') pgServer = await (await import('../test/support/postgres.ts')).startPostgres();
    const db = await openDatabase(pgServer ? { url: pgServer.url } : { dataDir: path.join(tmp, 'db') });
    try {
      const syn = new SyntheticEmbeddings({ n: dbN, dim, seed });
      let ts = performance.now();
      await insertSynthetic(db.sql, syn, 'bench');
      // History written over the past days, one track a second: a restore re-reads the rows of tracks written
      // within a minute of the save (the margin for the writer's clock), so they must not all share one time.
      if (a.cold) await db.sql.query(`UPDATE tracks SET seen_at = now() - interval '1 day' - ($1 - id) * interval '1 second'`, [dbN]);
      const insertMs = performance.now() - ts;
      const index = new HnswIndex(dim, { exactThreshold: int('threshold', 0), quantization, threads: int('threads', 1) });
      ts = performance.now();
      const binaryVectors = db.kind === 'postgresql';
      const c0 = process.cpuUsage();
      const r = await loadEmbeddings(db.sql, index, { model: 'bench', binaryVectors });
      const readMs = performance.now() - ts;
      const readCpuMs = cpuMs(c0);
      await index.flush();
      const totalMs = performance.now() - ts;
      const totalCpuMs = cpuMs(c0);
      if (r.loaded !== dbN) throw new Error(`loaded ${r.loaded} of ${dbN}`);
      const out: Record<string, unknown> = {
        mode,
        n: dbN,
        dim,
        insertSeconds: secs(insertMs),
        readSeconds: secs(readMs),
        rowsPerSecond: Math.round(dbN / (readMs / 1000)),
        readAndBuildSeconds: secs(totalMs),
      };
      if (a.cold) out.coldStart = { rebuild: { searchableSeconds: secs(readMs), readCpuSeconds: secs(readCpuMs), graphCompleteSeconds: secs(totalMs), cpuSeconds: secs(totalCpuMs) }, ...(await benchCold(db, syn, index, tmp)) };
      out.loadAvg = { start: Math.round(loadStart * 100) / 100, end: Math.round(os.loadavg()[0] * 100) / 100, cores: os.availableParallelism() };
      return out;
    } finally {
      await db.close();
    }
  } finally {
    await pgServer?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The cache half of --cold: save the rebuilt index, change the table as a day of operation would (1% new
 * rows, 0.5% deleted, 0.1% rewritten in place), then time a restart from the cache.
 */
async function benchCold(db: import('../server/store/db.ts').Database, syn: SyntheticEmbeddings, built: HnswIndex, tmp: string) {
  const dir = path.join(tmp, 'cache');
  const dbN = syn.o.n;
  // A fully synchronous HnswIndex.save() for comparison, then the cache's save (graph synchronous, vectors
  // asynchronous, checksums) with the longest event-loop stall it caused.
  let ts = performance.now();
  built.save(path.join(tmp, 'plain'));
  const syncSaveMs = performance.now() - ts;
  fs.rmSync(path.join(tmp, 'plain'), { recursive: true, force: true });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  ts = performance.now();
  const saved = await saveIndexCache(db.sql, built, dir, 'bench');
  const saveMs = performance.now() - ts;
  delay.disable();
  const diskBytes = Object.values(saved.files).reduce((n, f) => n + f.bytes, 0);
  const added = Math.max(1, Math.round(dbN / 100));
  ts = performance.now();
  await insertSynthetic(db.sql, new SyntheticEmbeddings({ n: added, dim, seed: seed + 1 }), 'bench', 200, dbN);
  const [{ n: gone }] = await db.sql.query<{ n: string }>(
    `WITH d AS (DELETE FROM embeddings WHERE id <= $1 AND id % 200 = 0 RETURNING id) SELECT count(*) AS n FROM d`,
    [dbN],
  );
  const rewrite = Math.max(1, Math.round(dbN / 1000));
  await db.sql.query(
    `WITH picked AS (SELECT id FROM embeddings WHERE id <= $1 AND id % 1000 = 7 LIMIT $2)
     UPDATE embeddings e SET vector = ARRAY(SELECT -x FROM unnest(e.vector) x) FROM picked WHERE e.id = picked.id`,
    [dbN, rewrite],
  );
  await db.sql.query(`UPDATE tracks SET seen_at = now() WHERE id IN (SELECT track_id FROM embeddings WHERE id <= $1 AND id % 1000 = 7)`, [dbN]);
  const churnMs = performance.now() - ts;
  ts = performance.now();
  const c0 = process.cpuUsage();
  const r = await restoreIndexCache(db.sql, dir, 'bench', { dim, index: built.options, binaryVectors: db.kind === 'postgresql' });
  const searchableMs = performance.now() - ts;
  await r.index.flush();
  const completeMs = performance.now() - ts;
  const expect = dbN + added - Number(gone);
  if (r.index.size !== expect) throw new Error(`restored ${r.index.size} entries, the table has ${expect}`);
  return {
    save: { seconds: secs(saveMs), maxEventLoopStallMs: Math.round(delay.max / 1e6), diskMB: mb(diskBytes), plainSyncSaveSeconds: secs(syncSaveMs) },
    churn: { added: r.sync.loaded, deleted: r.sync.removed, rewritten: r.sync.refreshed, seconds: secs(churnMs) },
    restore: {
      searchableSeconds: secs(searchableMs),
      verifySeconds: r.seconds.verify,
      loadSeconds: r.seconds.load,
      catchUpSeconds: r.seconds.catchUp,
      graphCompleteSeconds: secs(completeMs),
      cpuSeconds: secs(cpuMs(c0)),
    },
  };
}

const out: Record<string, unknown> = dbModes.length && !process.argv.includes('--n') ? {} : await benchIndex();
if (dbModes.length) {
  const loads = [];
  for (const m of dbModes) {
    log(`database load: ${m}`);
    loads.push(await benchDatabase(m));
  }
  out.databaseLoad = loads;
}
if (a.json) console.log(JSON.stringify(out, null, 2));
else console.log(out);
