// One vector index per ReID model (vectors of different models are not comparable), built lazily from the
// embeddings table on the first search of that model and then kept current: the history writer reports
// every embedding it inserts or changes, the retention sweep every one it deletes. The index is the search
// helper's HnswIndex: an exact scan while small, an HNSW graph once large (server/search).
import type { SqlClient } from '../store/db.ts';
import { HnswIndex, loadEmbeddings, type HnswOptions, type SearchFilter, type SearchHit } from '../search/index.ts';
import type { StoredEmbedding } from '../history/writer.ts';

/**
 * Entries added while a track is still growing get this end time, so a time filter on the index never
 * excludes them; exact times are checked on the track rows afterwards.
 */
const OPEN_END = Number.MAX_SAFE_INTEGER;

interface ModelIndex {
  ready: Promise<HnswIndex | undefined>;
  index?: HnswIndex;
  /** Rows reported while the index was loading, applied once it is there. */
  backlog: Array<StoredEmbedding | number>;
}

export class EmbeddingIndexes {
  private readonly models = new Map<string, ModelIndex>();

  constructor(
    private readonly sql: SqlClient,
    private readonly options: HnswOptions = {},
  ) {}

  /** The model's index, loading it from the database the first time; undefined when nothing is stored. */
  async get(model: string): Promise<HnswIndex | undefined> {
    let m = this.models.get(model);
    if (!m) {
      const entry: ModelIndex = { backlog: [], ready: Promise.resolve(undefined) };
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
    const index = new HnswIndex(dim, this.options);
    await loadEmbeddings(this.sql, index, { model });
    m.index = index;
    for (const b of m.backlog.splice(0)) this.apply(index, b);
    return index;
  }

  private apply(index: HnswIndex, b: StoredEmbedding | number): void {
    if (typeof b === 'number') index.remove(b);
    else if (b.vector.length === index.dim) index.add(b.id, b.vector, { jobUid: b.jobUid, camera: b.camera, startMs: b.startMs, endMs: OPEN_END });
  }

  /** The writer committed these rows. Models nobody searched yet stay unloaded (they load from the table). */
  upsert(rows: readonly StoredEmbedding[]): void {
    for (const r of rows) {
      const m = this.models.get(r.model);
      if (!m) continue;
      if (m.index) this.apply(m.index, r);
      else m.backlog.push(r);
    }
  }

  /** Retention deleted these embedding rows. */
  remove(ids: readonly number[]): void {
    for (const m of this.models.values()) {
      for (const id of ids) {
        if (m.index) m.index.remove(id);
        else m.backlog.push(id);
      }
    }
  }

  async search(model: string, query: ArrayLike<number>, k: number, filter: SearchFilter): Promise<{ hits: SearchHit[]; size: number }> {
    const index = await this.get(model);
    if (!index || index.size === 0 || query.length !== index.dim) return { hits: [], size: index?.size ?? 0 };
    return { hits: index.search(query, Math.min(k, 10_000), filter), size: index.size };
  }
}
