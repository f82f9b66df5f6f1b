// The vector search contract shared by the exact scan and the HNSW index. Vectors are compared by cosine
// distance (1 - cos): they are L2-normalised on the way in, so callers may pass raw model outputs.

/** Where and when the embedding was seen; what search filters select on. */
export interface VectorMeta {
  jobUid: string;
  camera: string;
  /** Epoch milliseconds of the track's first and last observation. */
  startMs: number;
  endMs: number;
}

/**
 * Every given field must match. A list matches any of its values (an empty list matches nothing); the time
 * range matches entries whose [startMs, endMs] overlaps [fromMs, toMs] (either end may be left open).
 */
export interface SearchFilter {
  jobUids?: readonly string[];
  cameras?: readonly string[];
  fromMs?: number;
  toMs?: number;
}

export interface SearchHit {
  id: number;
  /** Cosine distance, 0 (same direction) .. 2 (opposite). */
  distance: number;
}

export interface VectorIndex {
  readonly dim: number;
  /** Live entries (added and not removed). */
  readonly size: number;
  /** Adds an entry, or replaces the one with the same id. */
  add(id: number, vector: ArrayLike<number>, meta: VectorMeta): void;
  /** Returns whether the id was present. */
  remove(id: number): boolean;
  has(id: number): boolean;
  /** Live ids, in insertion order. */
  ids(): IterableIterator<number>;
  /** The k nearest entries that pass the filter, nearest first. */
  search(query: ArrayLike<number>, k: number, filter?: SearchFilter): SearchHit[];
  /** Writes the index to a directory (replaced atomically), readable by load(). */
  save(dir: string): void;
  /** Replaces this index's contents with what save() wrote. */
  load(dir: string): void;
}
