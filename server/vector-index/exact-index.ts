// Brute-force cosine search: the index for small sets (a scan of 20k vectors is a few ms) and the ground
// truth the HNSW index is measured against.
import fs from 'node:fs';
import path from 'node:path';
import type { SearchFilter, SearchHit, VectorIndex, VectorMeta } from './types.ts';
import { TopK, VectorStore, normalizeInto, replaceDir, validateId, validateMeta, validateVector, type StoreSnapshot, type StoreSummary } from './vector-store.ts';

export const INDEX_FORMAT = 'mei-vector-index';
export const INDEX_FORMAT_VERSION = 1;

export interface Manifest {
  format: typeof INDEX_FORMAT;
  version: number;
  kind: 'exact' | 'hnsw';
  dim: number;
  slots: number;
  live: number;
  jobs: string[];
  cameras: string[];
  /** HNSW only: slots [0, graphSlots) are in graph.usearch. */
  graphSlots?: number;
  params?: Record<string, unknown>;
}

export function validateK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new RangeError(`k must be an integer in 1..10000 (got ${String(k)})`);
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new Error(`cannot read vector index manifest ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (m.format !== INDEX_FORMAT || m.version !== INDEX_FORMAT_VERSION)
    throw new Error(`${file} is not a ${INDEX_FORMAT} v${INDEX_FORMAT_VERSION} manifest (format ${m.format}, version ${m.version})`);
  return m;
}

export class ExactIndex implements VectorIndex {
  protected store: VectorStore;
  protected readonly scratch: Float32Array;

  constructor(dim: number) {
    this.store = new VectorStore(dim);
    this.scratch = new Float32Array(dim);
  }

  get dim() {
    return this.store.dim;
  }
  get size() {
    return this.store.live;
  }
  has(id: number) {
    return this.store.slotOf(id) !== undefined;
  }
  /** Live ids, in insertion order. */
  ids(): IterableIterator<number> {
    return this.store.liveIds();
  }

  add(id: number, vector: ArrayLike<number>, meta: VectorMeta): void {
    validateId(id);
    validateVector(vector, this.dim, 'vector');
    validateMeta(meta);
    normalizeInto(vector, this.scratch, 'vector');
    this.remove(id);
    this.store.append(id, this.scratch, meta);
  }

  remove(id: number): boolean {
    return this.store.remove(id) !== undefined;
  }

  /** A copy of the stored (unit length) vector of an id, or undefined when absent. */
  vectorOf(id: number): Float32Array | undefined {
    const slot = this.store.slotOf(id);
    return slot === undefined ? undefined : this.store.vectorAt(slot).slice();
  }

  /** Normalised copy of a query, after checking it. */
  protected unitQuery(query: ArrayLike<number>, k: number): Float32Array {
    validateVector(query, this.dim, 'query');
    validateK(k);
    return normalizeInto(query, new Float32Array(this.dim), 'query');
  }

  search(query: ArrayLike<number>, k: number, filter?: SearchFilter): SearchHit[] {
    const q = this.unitQuery(query, k);
    const top = new TopK(k);
    this.store.scan(q, this.store.compile(filter), top);
    return top.sorted().map((h) => ({ id: this.store.idAt(h.slot), distance: h.distance }));
  }

  save(dir: string): void {
    replaceDir(dir, (tmp) => {
      const { head } = this.capture(tmp);
      const m: Manifest = { ...head, ...this.store.save(tmp) };
      fs.writeFileSync(path.join(tmp, 'manifest.json'), JSON.stringify(m));
    });
  }

  /**
   * What save() writes, into the empty directory `tmp`, for an index that keeps changing meanwhile: the
   * entries as of the call, of which only the small parts are taken synchronously (and an HNSW graph); the
   * vectors go to disk with asynchronous I/O.
   */
  async saveInto(tmp: string): Promise<void> {
    const { head, snapshot } = this.capture(tmp);
    const m: Manifest = { ...head, ...(await VectorStore.writeSnapshot(snapshot, tmp)) };
    await fs.promises.writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(m));
  }

  /** The manifest's own fields and the store's entries, taken at one instant (subclasses add their files). */
  protected capture(_tmp: string): { head: Omit<Manifest, keyof StoreSummary>; snapshot: StoreSnapshot } {
    return { head: { format: INDEX_FORMAT, version: INDEX_FORMAT_VERSION, kind: 'exact', dim: this.dim }, snapshot: this.store.snapshot() };
  }

  load(dir: string): void {
    const m = readManifest(dir);
    if (m.dim !== this.dim) throw new RangeError(`index in ${dir} has ${m.dim} dimensions, this index has ${this.dim}`);
    this.store = VectorStore.load(dir, m.dim, m);
  }
}
