// Approximate nearest-neighbour search: an HNSW graph (usearch, native SIMD code from its npm tarball's
// prebuilds) over the slots of the exact index's vector store. Below `exactThreshold` live vectors no graph
// is built and every search is an exact scan. The graph is fed in the background, in batches between event
// loop turns; slots not yet in it (the "tail") are scanned exactly, so a search never misses a fresh entry.
//
// Filters: the graph knows nothing of metadata, so a filtered search over-fetches k/selectivity candidates
// (selectivity estimated from a sample of the store) and keeps the ones that pass, retrying with 4x more until
// k pass. When the filter leaves few entries (<= exactThreshold expected) it scans exactly instead, which is
// both faster and exact there. Candidates are reranked with the stored float32 vectors, so distances are
// exact even when the graph quantises to int8.
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Index as UsearchIndex } from 'usearch';
import type { SearchFilter, SearchHit, VectorMeta } from './types.ts';
import { ExactIndex, INDEX_FORMAT, INDEX_FORMAT_VERSION, readManifest, type Manifest } from './exact-index.ts';
import { TopK, VectorStore, type CompiledFilter, type StoreSnapshot, type StoreSummary } from './vector-store.ts';

export type Quantization = 'f32' | 'f16' | 'i8';

export interface HnswOptions {
  /** HNSW M: graph edges per node (usearch "connectivity"). */
  connectivity?: number;
  /** efConstruction: candidate list size while inserting. */
  expansionAdd?: number;
  /** efSearch: candidate list size while searching (raised to the fetch size when over-fetching). */
  expansionSearch?: number;
  /** How the graph stores its copy of the vectors; the store keeps float32 for reranking. */
  quantization?: Quantization;
  /** Below this many live vectors (or filtered matches) search scans exactly. */
  exactThreshold?: number;
  /** Threads for graph insertion (searches use one). */
  threads?: number;
  /** Slots inserted per event-loop turn while building. */
  batch?: number;
}

const DEFAULTS: Required<HnswOptions> = {
  connectivity: 16,
  expansionAdd: 64,
  expansionSearch: 128,
  quantization: 'i8',
  exactThreshold: 20_000,
  threads: os.availableParallelism(),
  batch: 256,
};

/** Candidate count beyond which over-fetching costs more than scanning the filtered subset. */
const MAX_FETCH = 8192;
/** CPU of a graph search per candidate fetched, in float32 dot products (~1 ms for 128 at 100k x 512). */
const GRAPH_COST_PER_CANDIDATE = 12;

type Usearch = typeof import('usearch');
let usearch: Usearch | null | undefined;
/** Loads the native module once; null (exact search only, with a warning) where it has no prebuild. */
export function loadUsearch(): Usearch | null {
  if (usearch === undefined) {
    try {
      usearch = createRequire(import.meta.url)('usearch') as Usearch;
    } catch (e) {
      usearch = null;
      console.warn(`[search] usearch native module unavailable (${(e as Error).message}); vector search falls back to exact scans`);
    }
  }
  return usearch;
}

/**
 * int8 copy of a vector scaled so its largest component is +-127. usearch's own float->int8 cast scales a
 * unit vector by 127, which leaves 512-d components (~0.04) only a few levels and loses neighbours; cosine
 * is scale-free, so a per-vector scale costs nothing and keeps ~7 bits per component.
 */
export function quantiseI8(v: Float32Array, out: Int8Array): Int8Array {
  let max = 0;
  for (let j = 0; j < v.length; j++) max = Math.max(max, Math.abs(v[j]));
  const scale = max > 0 ? 127 / max : 0;
  for (let j = 0; j < v.length; j++) out[j] = Math.round(v[j] * scale);
  return out;
}

export interface HnswStats {
  size: number;
  /** Live entries in the graph. */
  graphSize: number;
  /** Live entries waiting to be inserted into the graph (scanned exactly meanwhile). */
  pending: number;
  storeMB: number;
  /** How searches were answered since construction: exact scans, graph searches, graph retries with a
   * larger fetch, and graph searches that gave up and scanned (filter more selective than sampled). */
  searches: { exact: number; graph: number; retries: number; fallbacks: number };
  params: Required<Omit<HnswOptions, 'threads' | 'batch'>>;
}

export class HnswIndex extends ExactIndex {
  readonly options: Required<HnswOptions>;
  private graph: UsearchIndex | null = null;
  /** Slots [0, graphSlots) have been offered to the graph (the live ones are in it). */
  private graphSlots = 0;
  private graphLive = 0;
  private pumping: Promise<void> | null = null;
  private pumpError: Error | null = null;
  private readonly searches = { exact: 0, graph: 0, retries: 0, fallbacks: 0 };

  constructor(dim: number, options: HnswOptions = {}) {
    super(dim);
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    for (const k of ['connectivity', 'expansionAdd', 'expansionSearch', 'threads', 'batch'] as const)
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`options.${k} must be a positive integer (got ${String(o[k])})`);
    if (!Number.isInteger(o.exactThreshold) || o.exactThreshold < 0) throw new RangeError('options.exactThreshold must be a non-negative integer');
    if (!['f32', 'f16', 'i8'].includes(o.quantization)) throw new RangeError(`options.quantization must be f32, f16 or i8 (got ${String(o.quantization)})`);
  }

  override add(id: number, vector: ArrayLike<number>, meta: VectorMeta): void {
    super.add(id, vector, meta);
    this.schedulePump();
  }

  override remove(id: number): boolean {
    const slot = this.store.remove(id);
    if (slot === undefined) return false;
    if (this.graph && slot < this.graphSlots) {
      this.graph.remove(BigInt(slot));
      this.graphLive--;
    }
    return true;
  }

  /** Resolves when every entry added so far is in the graph (immediately when no graph is due). */
  async flush(): Promise<void> {
    this.schedulePump();
    while (this.pumping) await this.pumping;
    if (this.pumpError) throw this.pumpError;
  }

  /** flush() without yielding to the event loop. */
  flushSync(): void {
    while (this.graphDue() && this.graphSlots < this.store.slots) this.pumpBatch();
  }

  stats(): HnswStats {
    const { threads: _t, batch: _b, ...params } = this.options;
    return {
      size: this.size,
      graphSize: this.graphLive,
      pending: this.size - this.graphLive,
      storeMB: this.store.bytes / 2 ** 20,
      searches: { ...this.searches },
      params,
    };
  }

  private graphDue(): boolean {
    return !!(this.graph || (this.store.live >= this.options.exactThreshold && loadUsearch()));
  }

  private schedulePump(): void {
    if (this.pumping || this.graphSlots >= this.store.slots || !this.graphDue()) return;
    this.pumping = (async () => {
      try {
        while (this.graphSlots < this.store.slots) {
          await new Promise((r) => setImmediate(r)); // let requests (and searches) run between batches
          this.pumpBatch();
        }
      } catch (e) {
        this.pumpError = e as Error;
        console.error(`[search] building the HNSW graph failed: ${(e as Error).message}`);
      } finally {
        this.pumping = null;
      }
    })();
  }

  private newGraph(): UsearchIndex {
    const u = loadUsearch();
    if (!u) throw new Error('usearch native module unavailable');
    const o = this.options;
    return new u.Index({
      dimensions: this.dim,
      metric: u.MetricKind.Cos,
      quantization: { f32: u.ScalarKind.F32, f16: u.ScalarKind.F16, i8: u.ScalarKind.I8 }[o.quantization],
      connectivity: o.connectivity,
      expansion_add: o.expansionAdd,
      expansion_search: o.expansionSearch,
      multi: false,
    });
  }

  private pumpBatch(): void {
    this.graph ??= this.newGraph();
    const from = this.graphSlots;
    const to = Math.min(this.store.slots, from + this.options.batch);
    let n = 0;
    for (let s = from; s < to; s++) if (this.store.isAlive(s)) n++;
    if (n > 0) {
      const keys = new BigUint64Array(n);
      const i8 = this.options.quantization === 'i8';
      const vecs = i8 ? new Int8Array(n * this.dim) : new Float32Array(n * this.dim);
      let i = 0;
      for (let s = from; s < to; s++) {
        if (!this.store.isAlive(s)) continue;
        keys[i] = BigInt(s);
        if (i8) quantiseI8(this.store.vectorAt(s), (vecs as Int8Array).subarray(i * this.dim, (i + 1) * this.dim));
        else vecs.set(this.store.vectorAt(s), i * this.dim);
        i++;
      }
      this.graph.add(keys, vecs, this.options.threads);
      this.graphLive += n;
    }
    this.graphSlots = to;
  }

  /** Exact scan of everything, ignoring the graph: the ground truth that recall is measured against. */
  searchExact(query: ArrayLike<number>, k: number, filter?: SearchFilter): SearchHit[] {
    return super.search(query, k, filter);
  }

  override search(query: ArrayLike<number>, k: number, filter?: SearchFilter): SearchHit[] {
    const q = this.unitQuery(query, k);
    const f = this.store.compile(filter);
    const top = new TopK(k);
    const G = this.graphSlots;
    // The tail (not yet in the graph) is always scanned exactly.
    this.store.scan(q, f, top, G, this.store.slots);
    const sel = this.graph && G > 0 ? this.store.estimateSelectivity(f, G) : 0;
    const want = this.fetchSize(k, sel);
    if (!this.graph || this.graphLive === 0 || this.scanIsCheaper(f, sel * this.graphLive, want, G)) {
      this.searches.exact++;
      this.store.scan(q, f, top, 0, G);
    } else {
      this.searches.graph++;
      this.searchGraph(q, k, f, want, top, G);
    }
    return top.sorted().map((h) => ({ id: this.store.idAt(h.slot), distance: h.distance }));
  }

  /** Candidates to ask the graph for: 2x the expected need, so sampling error in `sel` rarely forces a retry. */
  private fetchSize(k: number, sel: number): number {
    return Math.min(this.graphLive, Math.max(this.options.expansionSearch, k, Math.ceil((2 * k) / Math.max(sel, 1e-9))));
  }

  /**
   * Scan or graph? In units of one float32 dot product: a scan costs one per match plus ~0.02 per
   * candidate slot it tests, a graph search ~12 per candidate fetched (measured on 512-d data).
   */
  private scanIsCheaper(f: CompiledFilter, matches: number, want: number, G: number): boolean {
    if (matches > this.options.exactThreshold) return false;
    const tested = f.candidates ? f.candidates.reduce((n, l) => n + l.length, 0) : G;
    return matches + 0.02 * tested <= GRAPH_COST_PER_CANDIDATE * want;
  }

  private searchGraph(q: Float32Array, k: number, f: CompiledFilter, first: number, top: TopK, G: number): void {
    const graph = this.graph!;
    const total = this.graphLive;
    let want = first;
    const gq = this.options.quantization === 'i8' ? quantiseI8(q, new Int8Array(this.dim)) : q;
    for (;;) {
      const found = graph.search(gq, want, 1);
      const picked = new TopK(k);
      let passed = 0;
      for (let i = 0; i < found.keys.length; i++) {
        const slot = Number(found.keys[i]);
        if (!f.test(slot)) continue;
        passed++;
        picked.push(slot, this.store.distance(q, slot));
      }
      if (passed >= k || want >= total) {
        for (const h of picked.sorted()) top.push(h.slot, h.distance);
        return;
      }
      if (want * 4 > MAX_FETCH) break;
      want = Math.min(total, want * 4);
      this.searches.retries++;
    }
    this.searches.fallbacks++;
    this.store.scan(q, f, top, 0, G); // the filter is more selective than sampled: scan its matches exactly
  }

  protected override capture(tmp: string): { head: Omit<Manifest, keyof StoreSummary>; snapshot: StoreSnapshot } {
    // The graph and the snapshot at the same instant: slots [0, graphSlots) of the snapshot are in the graph.
    if (this.graph) this.graph.save(path.join(tmp, 'graph.usearch'));
    const { threads: _t, batch: _b, ...params } = this.options;
    return {
      head: { format: INDEX_FORMAT, version: INDEX_FORMAT_VERSION, kind: 'hnsw', dim: this.dim, graphSlots: this.graph ? this.graphSlots : 0, params },
      snapshot: this.store.snapshot(),
    };
  }

  override load(dir: string): void {
    const m = readManifest(dir);
    if (m.dim !== this.dim) throw new RangeError(`index in ${dir} has ${m.dim} dimensions, this index has ${this.dim}`);
    const store = VectorStore.load(dir, m.dim, m);
    let graph: UsearchIndex | null = null;
    let graphSlots = 0;
    const saved = m.params as Partial<HnswOptions> | undefined;
    // A graph built with other parameters is dropped and rebuilt rather than mixed with new inserts.
    const sameParams =
      !!saved && (['connectivity', 'expansionAdd', 'quantization'] as const).every((key) => saved[key] === this.options[key]);
    if (m.kind === 'hnsw' && (m.graphSlots ?? 0) > 0 && sameParams && loadUsearch()) {
      graph = this.newGraph();
      graph.load(path.join(dir, 'graph.usearch'));
      graphSlots = m.graphSlots!;
    }
    let graphLive = 0;
    for (let s = 0; s < graphSlots; s++) if (store.isAlive(s)) graphLive++;
    if (graph && graph.size() !== graphLive)
      throw new Error(`graph in ${dir} has ${graph.size()} entries, the store has ${graphLive} live ones in its range`);
    this.store = store;
    this.graph = graph;
    this.graphSlots = graphSlots;
    this.graphLive = graphLive;
    this.schedulePump();
  }
}
