// Identities bucketed by the time they were last seen, so a query "who was seen since t" visits only the
// buckets from t on (the hand-off window) instead of all history. touch() is O(1); since() costs
// O(buckets in range + items returned); old buckets are dropped by evictBefore().

export interface Indexed {
  lastMs: number;
  /** Bucket key the item is filed under, NaN when not indexed (owned by the index). */
  bucket: number;
}

export class ActiveIndex<T extends Indexed> {
  private readonly buckets = new Map<number, Set<T>>();
  private minKey = Infinity;
  private maxKey = -Infinity;
  private count = 0;

  constructor(readonly bucketMs: number) {
    if (!(bucketMs > 0)) throw new RangeError(`bucketMs must be > 0, got ${bucketMs}`);
  }

  get size(): number {
    return this.count;
  }

  private key(ms: number): number {
    return Math.floor(ms / this.bucketMs);
  }

  /** Files the item under its current lastMs (call after lastMs changes). */
  touch(item: T): void {
    const k = this.key(item.lastMs);
    if (k === item.bucket) return;
    if (!Number.isNaN(item.bucket)) this.detach(item);
    let set = this.buckets.get(k);
    if (!set) {
      set = new Set();
      this.buckets.set(k, set);
      if (k < this.minKey) this.minKey = k;
      if (k > this.maxKey) this.maxKey = k;
    }
    set.add(item);
    item.bucket = k;
    this.count++;
  }

  remove(item: T): void {
    if (!Number.isNaN(item.bucket)) this.detach(item);
  }

  private detach(item: T): void {
    const set = this.buckets.get(item.bucket);
    if (set?.delete(item)) this.count--;
    if (set && set.size === 0) this.buckets.delete(item.bucket);
    item.bucket = NaN;
  }

  /** Items with lastMs >= fromMs. */
  *since(fromMs: number): Generator<T> {
    const lo = Math.max(this.key(fromMs), this.minKey);
    if (this.maxKey - lo > this.buckets.size) {
      // Sparse keys (e.g. one camera's clock far ahead): walk the map instead of the key range.
      for (const [k, set] of this.buckets) if (k >= lo) for (const it of set) if (it.lastMs >= fromMs) yield it;
      return;
    }
    for (let k = lo; k <= this.maxKey; k++) {
      const set = this.buckets.get(k);
      if (set) for (const it of set) if (it.lastMs >= fromMs) yield it;
    }
  }

  /** Removes (and returns) every item last seen before ms. */
  evictBefore(ms: number): T[] {
    const hi = this.key(ms);
    const out: T[] = [];
    if (hi <= this.minKey) return out;
    const keys = hi - this.minKey > this.buckets.size ? [...this.buckets.keys()].filter((k) => k < hi) : range(this.minKey, hi);
    for (const k of keys) {
      const set = this.buckets.get(k);
      if (!set) continue;
      for (const it of set) {
        it.bucket = NaN;
        out.push(it);
      }
      this.count -= set.size;
      this.buckets.delete(k);
    }
    this.minKey = this.buckets.size ? Math.min(...this.buckets.keys()) : Infinity;
    if (!this.buckets.size) this.maxKey = -Infinity;
    return out;
  }
}

function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let k = from; k < to; k++) r.push(k);
  return r;
}
