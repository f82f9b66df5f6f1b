// One vector index per ReID model (vectors of different models are not comparable), built lazily from the
// embeddings table on the first search of that model and then kept current: the history writer reports
// every embedding it inserts or changes, the retention sweep every one it deletes. The index is the search
// helper's HnswIndex: an exact scan while small, an HNSW graph once large (server/search).
//
// With a cache directory (configure()), each model's index is also saved there (server/history/person-search/index-cache.ts)
// after a rebuild, once enough entries changed or enough time passed, and at close(); a later start loads
// the saved one and reads only the rows changed since, instead of the whole table.
import type { SqlClient } from '../../store/db.ts';
import type { Logger } from '../../log.ts';
import { HnswIndex, type HnswOptions, type SearchFilter, type SearchHit } from '../../vector-index/index.ts';
import { loadEmbeddings } from './embedding-loader.ts';
import { CacheRejectedError, listCachedModels, modelCacheDir, restoreIndexCache, saveIndexCache, type RestoredIndex } from './index-cache.ts';
import type { StoredEmbedding } from '../writer.ts';

/**
 * Entries added while a track is still growing get this end time, so a time filter on the index never
 * excludes them; exact times are checked on the track rows afterwards.
 */
const OPEN_END = Number.MAX_SAFE_INTEGER;

export interface IndexCacheOptions {
  /** Where each model's index is saved (one subdirectory per model). */
  dir: string;
  /** Save a model once this many entries were added, replaced or removed since its last save (default 50 000). */
  saveAfterChanges?: number;
  /** ... or once it has had any change for this long (default 10 minutes). */
  saveEveryMs?: number;
  /** How often those two are checked (default 30 s). */
  checkEveryMs?: number;
  /** Load the saved models at configure() instead of at their first search (default true). */
  warm?: boolean;
}

export interface IndexSetup {
  /** Read vectors in PostgreSQL's binary array format: pass `db.kind === 'postgresql'` (3-4x faster there, slower on PGlite). */
  binaryVectors?: boolean;
  cache?: IndexCacheOptions;
  log?: Logger;
}

/** How a model's index came to be, for logs, stats and tests. */
export type IndexOrigin =
  | { from: 'database'; rows: number; seconds: number; cacheRejected?: string }
  | { from: 'cache'; rows: number; seconds: number; restored: Omit<RestoredIndex, 'index'> };

interface ModelIndex {
  ready: Promise<HnswIndex | undefined>;
  index?: HnswIndex;
  /** Rows reported while the index was loading, applied once it is there. */
  backlog: Array<StoredEmbedding | number>;
  origin?: IndexOrigin;
  /** Entries added, replaced or removed since the last save (or since the load, when never saved). */
  changes: number;
  /** When the entries since the last save started to change (0: unchanged). */
  dirtySince: number;
  saving?: Promise<void>;
  /** Rebuilt from the table and its graph not complete yet: saved when it is, not by the schedule before. */
  building?: boolean;
}

export class EmbeddingIndexes {
  private readonly models = new Map<string, ModelIndex>();
  private binaryVectors = false;
  private cache?: Required<IndexCacheOptions>;
  private log?: Logger;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private warming: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlClient,
    private readonly options: HnswOptions = {},
  ) {}

  /** Settings that come from the database and the server (call before the first search). */
  configure(setup: IndexSetup): void {
    this.binaryVectors = !!setup.binaryVectors;
    this.log = setup.log ?? this.log;
    if (!setup.cache) return;
    const c = setup.cache;
    for (const k of ['saveAfterChanges', 'saveEveryMs', 'checkEveryMs'] as const)
      if (c[k] !== undefined && (!Number.isInteger(c[k]) || c[k]! < 1)) throw new RangeError(`cache.${k} must be a positive integer (got ${String(c[k])})`);
    if (typeof c.dir !== 'string' || !c.dir) throw new TypeError('cache.dir must be a directory path');
    this.cache = { saveAfterChanges: 50_000, saveEveryMs: 600_000, checkEveryMs: 30_000, warm: true, ...c };
    clearInterval(this.timer);
    this.timer = setInterval(() => this.saveDue(), this.cache.checkEveryMs);
    this.timer.unref();
    if (this.cache.warm) {
      const models = listCachedModels(this.cache.dir);
      const failed = (model: string) => (err: unknown) => {
        if (!this.closed) this.log?.error(`search index for "${model}": loading failed:`, err);
      };
      this.warming = Promise.all(models.map((model) => this.get(model).catch(failed(model)))).then(() => undefined);
    }
  }

  /** Resolves when the models found in the cache directory at configure() are loaded (or failed to). */
  whenWarm(): Promise<void> {
    return this.warming;
  }

  /** Per loaded model: entries and how long the load took (metrics). */
  sizes(): Array<{ model: string; size: number; loadSeconds?: number }> {
    return [...this.models].flatMap(([model, m]) => (m.index ? [{ model, size: m.index.size, loadSeconds: m.origin?.seconds }] : []));
  }

  /** How the model's index was loaded (undefined until it is). */
  origin(model: string): IndexOrigin | undefined {
    return this.models.get(model)?.origin;
  }

  /** The model's index, loading it from the database the first time; undefined when nothing is stored. */
  async get(model: string): Promise<HnswIndex | undefined> {
    let m = this.models.get(model);
    if (!m) {
      const entry: ModelIndex = { backlog: [], ready: Promise.resolve(undefined), changes: 0, dirtySince: 0 };
      entry.ready = this.load(model, entry);
      this.models.set(model, (m = entry));
      entry.ready.catch(() => this.models.delete(model)); // a failed load is retried by the next search
    }
    return m.ready;
  }

  private async load(model: string, m: ModelIndex): Promise<HnswIndex | undefined> {
    const [row] = await this.sql.query<{ dim: number }>(`SELECT dim FROM embeddings WHERE model = $1 LIMIT 1`, [model]);
    const dim = row?.dim ?? (m.backlog.find((b): b is StoredEmbedding => typeof b !== 'number')?.vector.length);
    if (!dim) {
      // Nothing stored yet: forget the attempt so the next search (or insert) creates the index.
      this.models.delete(model);
      return undefined;
    }
    // A close() during a load stops it at the next page: the database is about to go.
    const onPage = () => {
      if (this.closed) throw new Error('search index: the server is closing');
    };
    const t0 = performance.now();
    let index: HnswIndex | undefined;
    let cacheRejected: string | undefined;
    if (this.cache) {
      const dir = modelCacheDir(this.cache.dir, model);
      try {
        const r = await restoreIndexCache(this.sql, dir, model, { dim, index: this.options, binaryVectors: this.binaryVectors, onPage });
        index = r.index;
        const { index: _i, ...restored } = r;
        m.origin = { from: 'cache', rows: index.size, seconds: (performance.now() - t0) / 1000, restored };
        m.changes = r.sync.loaded + r.sync.removed + r.sync.refreshed;
        if (m.changes) m.dirtySince = Date.now();
        this.log?.info(
          `search index for "${model}": ${r.manifest.count} entries from ${dir} (checked ${r.seconds.verify} s, loaded ${r.seconds.load} s), ` +
            `then ${r.sync.loaded} new, ${r.sync.refreshed} re-read and ${r.sync.removed} deleted rows from the database (${r.seconds.catchUp} s)`,
        );
      } catch (e) {
        if (!(e instanceof CacheRejectedError)) throw e;
        cacheRejected = e.reason;
        if (e.missing) this.log?.info(`search index for "${model}": no saved index yet (${dir}); building from the database`);
        else this.log?.warn(`search index for "${model}": saved index not used: ${e.reason}; rebuilding from the database`);
      }
    }
    if (!index) {
      index = new HnswIndex(dim, this.options);
      const r = await loadEmbeddings(this.sql, index, { model, binaryVectors: this.binaryVectors, onPage });
      m.origin = { from: 'database', rows: r.loaded, seconds: (performance.now() - t0) / 1000, ...(cacheRejected !== undefined && { cacheRejected }) };
      m.changes = Math.max(1, r.loaded);
      m.dirtySince = Date.now();
      if (this.cache) {
        m.building = true;
        void this.saveWhenBuilt(model, m, index);
      }
    }
    m.index = index;
    for (const b of m.backlog.splice(0)) this.apply(m, b);
    return index;
  }

  /** After a rebuild from the table: save once the graph is complete, so the next start skips both. */
  private async saveWhenBuilt(model: string, m: ModelIndex, index: HnswIndex): Promise<void> {
    try {
      await index.flush();
      m.building = false;
      if (!this.closed && this.models.get(model) === m) await this.save(model);
    } catch (err) {
      m.building = false;
      this.log?.error(`search index for "${model}": saving after the rebuild failed:`, err);
    }
  }

  private apply(m: ModelIndex, b: StoredEmbedding | number): void {
    const index = m.index!;
    let changed = false;
    if (typeof b === 'number') changed = index.remove(b);
    else if (b.vector.length === index.dim) {
      index.add(b.id, b.vector, { jobUid: b.jobUid, camera: b.camera, startMs: b.startMs, endMs: OPEN_END });
      changed = true;
    }
    if (changed) {
      m.changes++;
      m.dirtySince ||= Date.now();
    }
  }

  /** The writer committed these rows. Models nobody searched yet stay unloaded (they load from the table). */
  upsert(rows: readonly StoredEmbedding[]): void {
    for (const r of rows) {
      const m = this.models.get(r.model);
      if (!m) continue;
      if (m.index) this.apply(m, r);
      else m.backlog.push(r);
    }
  }

  /** Retention deleted these embedding rows. */
  remove(ids: readonly number[]): void {
    for (const m of this.models.values()) {
      for (const id of ids) {
        if (m.index) this.apply(m, id);
        else m.backlog.push(id);
      }
    }
  }

  async search(model: string, query: ArrayLike<number>, k: number, filter: SearchFilter): Promise<{ hits: SearchHit[]; size: number }> {
    const index = await this.get(model);
    if (!index || index.size === 0 || query.length !== index.dim) return { hits: [], size: index?.size ?? 0 };
    return { hits: index.search(query, Math.min(k, 10_000), filter), size: index.size };
  }

  /** Saves the model's index to the cache now (waits for a save already running, then saves again if needed). */
  async save(model: string): Promise<void> {
    const m = this.models.get(model);
    if (!this.cache || !m?.index) return;
    while (m.saving) await m.saving.catch(() => undefined);
    if (m.changes === 0) return;
    const dir = modelCacheDir(this.cache.dir, model);
    const changes = m.changes;
    const t0 = performance.now();
    m.saving = saveIndexCache(this.sql, m.index, dir, model)
      .then((saved) => {
        m.changes -= changes;
        m.dirtySince = m.changes ? Date.now() : 0;
        this.log?.info(`search index for "${model}": saved ${saved.count} entries to ${dir} in ${Math.round(performance.now() - t0) / 1000} s`);
      })
      .finally(() => (m.saving = undefined));
    return m.saving;
  }

  private saveDue(): void {
    const c = this.cache!;
    for (const [model, m] of this.models) {
      if (!m.index || m.saving || m.building || m.changes === 0) continue;
      if (m.changes >= c.saveAfterChanges || Date.now() - m.dirtySince >= c.saveEveryMs)
        this.save(model).catch((err) => this.log?.error(`search index for "${model}": save failed:`, err));
    }
  }

  /**
   * Stops the schedule and saves every changed index (call while the database is still open, after the
   * writer stopped feeding). Loads still running are abandoned.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const [model, m] of [...this.models]) {
      await m.ready.catch(() => undefined);
      if (!this.cache || !m.index) continue;
      await this.save(model).catch((err) => this.log?.error(`search index for "${model}": save at shutdown failed:`, err));
    }
  }
}
