// One model's vector index saved beside the database, so that a server start reads it from a file and takes
// only what changed since from the embeddings table, instead of the whole table (minutes at 1M rows). The
// table stays the source of truth: a cache that is missing, damaged, of another database, model or format
// is rejected with the reason, and the caller rebuilds from the table.
//
// A cache directory holds what HnswIndex.save writes (manifest.json, vectors.f32, the columns,
// graph.usearch) plus cache.json: model, dimension, entry count, highest embedding id, the database's
// identity, a mark of the newest track write before the save, and every file's size and SHA-256 (checked
// before any file is parsed, so a damaged graph never reaches the native loader). A save fills a sibling
// directory and swaps it in by renames.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { SqlClient } from '../../store/db.ts';
import { syncEmbeddings, type SyncResult } from './embedding-loader.ts';
import { HnswIndex, type HnswOptions } from '../../vector-index/hnsw-index.ts';
import { freshTempDir, swapDirInto } from '../../vector-index/vector-store.ts';

export const CACHE_FORMAT = 'mei-index-cache';
export const CACHE_FORMAT_VERSION = 1;
export const CACHE_FILE = 'cache.json';
/** Subtracted from the newest track write time: covers a writer clock that steps back a little. */
const TOUCH_MARGIN = '1 minute';
/** Saved vectors compared with the table at load, to catch a cache of other data under the same identity. */
const SPOT_CHECKS = 16;

export interface CacheManifest {
  format: typeof CACHE_FORMAT;
  version: number;
  model: string;
  dim: number;
  /** Live entries saved. */
  count: number;
  /** The highest embedding id in the saved index; the catch-up reads the rows above it. */
  highWaterId: number;
  /**
   * seen_at of the newest track write before the save, minus a margin (PostgreSQL timestamptz text); the rows
   * of tracks written since are re-read, because the writer replaces representative vectors in place. Null
   * when there were no tracks.
   */
  touchedSince: string | null;
  /** The database the entries came from: system identifier / database name / embeddings table oid. */
  database: string;
  savedAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

/** Why a saved index was not used; `missing` when there simply is none (not a problem worth a warning). */
export class CacheRejectedError extends Error {
  constructor(
    readonly reason: string,
    readonly missing = false,
  ) {
    super(reason);
    this.name = 'CacheRejectedError';
  }
}

/** The directory of one model's cache under `root`: a readable slug plus a hash, so no two models collide. */
export function modelCacheDir(root: string, model: string): string {
  const slug = model.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  const hash = crypto.createHash('sha256').update(model).digest('hex').slice(0, 10);
  return path.join(root, `${slug}-${hash}`);
}

/**
 * Where the server keeps the caches: MEI_INDEX_DIR when set ("off" disables them); else, embedded, inside the
 * PGlite data directory (the cache goes wherever the data goes); with PostgreSQL, `<stateDir>/index`.
 */
export function resolveIndexCacheRoot(o: { env: Record<string, string | undefined>; kind: 'pglite' | 'postgresql'; dataDir: string; stateDir: string }): string | undefined {
  const v = o.env.MEI_INDEX_DIR?.trim();
  if (v === 'off') return undefined;
  if (v) return path.resolve(v);
  return o.kind === 'pglite' ? path.join(o.dataDir, 'mei-index') : path.join(o.stateDir, 'index');
}

/** Models with a cache under `root` (whatever its state: loading checks it). */
export function listCachedModels(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const models: string[] = [];
  for (const name of names) {
    if (name.includes('.')) continue; // a save in progress or left by a crash (`<dir>.saving-<pid>`)
    try {
      const m = JSON.parse(fs.readFileSync(path.join(root, name, CACHE_FILE), 'utf8')) as Partial<CacheManifest>;
      if (typeof m.model === 'string' && modelCacheDir(root, m.model) === path.join(root, name)) models.push(m.model);
    } catch {
      // unreadable: found and reported when (if) its model is loaded
    }
  }
  return models;
}

/** Identifies the database, so that a cache is never applied to another one that reuses the ids. */
export async function databaseIdentity(sql: SqlClient): Promise<string> {
  const [r] = await sql.query<{ db: string; rel: string | null }>(`SELECT current_database() AS db, to_regclass('embeddings')::oid::text AS rel`);
  let sys = '?';
  try {
    const [s] = await sql.query<{ sys: string }>(`SELECT system_identifier::text AS sys FROM pg_control_system()`);
    sys = s.sys;
  } catch {
    // not permitted for this role: name and table oid must do
  }
  return `${sys}/${r.db}/${r.rel}`;
}

async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Removes `<dir>.saving-<pid>` and `<dir>.old-<pid>` left by a process that died while saving. */
function removeLeftovers(dir: string): void {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.`;
  let names: string[] = [];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(prefix) && /^(?:saving|old)-(\d+)$/.exec(name.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    fs.rmSync(path.join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function highestId(index: HnswIndex): number {
  let max = 0;
  for (const id of index.ids()) if (id > max) max = id;
  return max;
}

/** Saves the index as `model`'s cache in `dir` (replacing the previous one atomically). */
export async function saveIndexCache(sql: SqlClient, index: HnswIndex, dir: string, model: string): Promise<CacheManifest> {
  const database = await databaseIdentity(sql);
  const [{ mark }] = await sql.query<{ mark: string | null }>(`SELECT (max(seen_at) - interval '${TOUCH_MARGIN}')::text AS mark FROM tracks`);
  // Nothing awaits from here to the snapshot saveInto() takes first: it holds every write committed before
  // `mark` was read (the writer reports its rows as it commits), and any write after it touches tracks at or
  // past `mark`. Only the graph is written synchronously; the vectors are written asynchronously.
  const count = index.size;
  const highWaterId = highestId(index);
  removeLeftovers(dir);
  const tmp = freshTempDir(dir, 'saving');
  try {
    await index.saveInto(tmp);
    const files: CacheManifest['files'] = {};
    for (const name of fs.readdirSync(tmp).sort()) {
      const file = path.join(tmp, name);
      files[name] = { bytes: fs.statSync(file).size, sha256: await sha256File(file) };
    }
    const m: CacheManifest = {
      format: CACHE_FORMAT,
      version: CACHE_FORMAT_VERSION,
      model,
      dim: index.dim,
      count,
      highWaterId,
      touchedSince: mark,
      database,
      savedAt: new Date().toISOString(),
      files,
    };
    fs.writeFileSync(path.join(tmp, CACHE_FILE), JSON.stringify(m, null, 1));
    swapDirInto(tmp, dir);
    return m;
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Reads and checks cache.json against what is expected of it. */
export function readCacheManifest(dir: string, model: string, dim: number): CacheManifest {
  const file = path.join(dir, CACHE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CacheRejectedError(`no saved index in ${dir}`, true);
    throw new CacheRejectedError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let m: CacheManifest;
  try {
    m = JSON.parse(text) as CacheManifest;
  } catch (e) {
    throw new CacheRejectedError(`${file} is not JSON (${(e as Error).message})`);
  }
  if (!m || m.format !== CACHE_FORMAT || m.version !== CACHE_FORMAT_VERSION)
    throw new CacheRejectedError(`${file} is not a ${CACHE_FORMAT} v${CACHE_FORMAT_VERSION} manifest (format ${String(m?.format)}, version ${String(m?.version)})`);
  if (m.model !== model) throw new CacheRejectedError(`${file} is of model "${String(m.model)}", not "${model}"`);
  if (m.dim !== dim) throw new CacheRejectedError(`${file} has ${String(m.dim)} dimensions, the database's ${model} embeddings have ${dim}`);
  for (const k of ['count', 'highWaterId'] as const)
    if (!Number.isSafeInteger(m[k]) || m[k] < 0) throw new CacheRejectedError(`${file}: ${k} must be a non-negative integer (got ${String(m[k])})`);
  if (m.touchedSince !== null && typeof m.touchedSince !== 'string') throw new CacheRejectedError(`${file}: touchedSince must be a timestamp or null`);
  if (!m.files || typeof m.files !== 'object' || !m.files['manifest.json'] || !m.files['vectors.f32'])
    throw new CacheRejectedError(`${file} lists no index files`);
  return m;
}

/** Every listed file has its size and SHA-256. */
async function verifyFiles(dir: string, m: CacheManifest): Promise<void> {
  for (const [name, want] of Object.entries(m.files)) {
    if (name !== path.basename(name)) throw new CacheRejectedError(`cache.json lists a file outside the directory (${name})`);
    const file = path.join(dir, name);
    let bytes: number;
    try {
      bytes = fs.statSync(file).size;
    } catch {
      throw new CacheRejectedError(`${file} is missing`);
    }
    if (bytes !== want.bytes) throw new CacheRejectedError(`${file} has ${bytes} bytes, cache.json says ${want.bytes}`);
    if ((await sha256File(file)) !== want.sha256) throw new CacheRejectedError(`${file} fails its checksum (damaged on disk)`);
  }
}

/** Compares a spread of saved vectors with their rows (skipping rows deleted or rewritten since the save). */
async function spotCheck(sql: SqlClient, index: HnswIndex, m: CacheManifest): Promise<void> {
  const step = Math.max(1, Math.floor(index.size / SPOT_CHECKS));
  const ids: string[] = [];
  let i = 0;
  for (const id of index.ids()) if (i++ % step === 0) ids.push(String(id));
  if (!ids.length) return;
  const rows = await sql.query<{ id: string | number; vector: number[] | null; touched: boolean }>(
    `SELECT e.id, e.vector, t.seen_at >= $3::timestamptz AS touched FROM embeddings e JOIN tracks t ON t.id = e.track_id
     WHERE e.model = $1 AND e.id = ANY($2::bigint[])`,
    [m.model, ids, m.touchedSince ?? '-infinity'],
  );
  for (const r of rows) {
    if (r.touched) continue;
    const saved = index.vectorOf(Number(r.id))!;
    const v = r.vector ?? [];
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    const same = v.length === saved.length && norm > 0 && v.every((x, j) => Math.abs(x / norm - saved[j]) < 1e-6);
    if (!same) throw new CacheRejectedError(`saved embedding ${r.id} differs from the database's row (the cache holds other data)`);
  }
}

export interface RestoredIndex {
  index: HnswIndex;
  manifest: CacheManifest;
  /** What the catch-up took from the table. */
  sync: SyncResult;
  /** Seconds spent checking the files, loading them, and catching up with the table. */
  seconds: { verify: number; load: number; catchUp: number };
}

export interface RestoreOptions {
  /** The dimension of the model's rows in the table. */
  dim: number;
  index?: HnswOptions;
  binaryVectors?: boolean;
  onPage?: (loaded: number, lastId: number) => void | Promise<void>;
}

/**
 * Loads `model`'s cache from `dir` and brings it up to date with the table: rows re-written since the save,
 * rows added (ids above the high-water mark), rows deleted (retention). Throws CacheRejectedError with the
 * reason when the cache cannot be used; database errors propagate as they are.
 */
export async function restoreIndexCache(sql: SqlClient, dir: string, model: string, o: RestoreOptions): Promise<RestoredIndex> {
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = Math.round(now - t) / 1000;
    t = now;
    return s;
  };
  const m = readCacheManifest(dir, model, o.dim);
  const database = await databaseIdentity(sql);
  if (m.database !== database) throw new CacheRejectedError(`saved from database ${m.database}, this is ${database}`);
  await verifyFiles(dir, m);
  const verify = lap();
  const index = new HnswIndex(o.dim, o.index);
  try {
    index.load(dir);
  } catch (e) {
    throw new CacheRejectedError(`index files do not load: ${(e as Error).message}`);
  }
  const top = highestId(index);
  if (index.size !== m.count || top !== m.highWaterId)
    throw new CacheRejectedError(`index holds ${index.size} entries up to id ${top}, cache.json says ${m.count} up to ${m.highWaterId}`);
  const load = lap();
  await spotCheck(sql, index, m);
  const sync = await syncEmbeddings(sql, index, { model, binaryVectors: o.binaryVectors, touchedSince: m.touchedSince ?? '-infinity', onPage: o.onPage });
  return { index, manifest: m, sync, seconds: { verify, load, catchUp: lap() } };
}
