// Which embeddings a track keeps (its representatives): up to maxPerTrack; a new embedding is added when it
// differs from every kept one by at least minDistance, otherwise it replaces the nearest (an agent's
// embedding is the track's running mean, so the newer one is the better estimate). Pure: no database.

export interface Representative {
  /** Row id in `embeddings`. */
  id: number;
  vector: Float32Array;
  /** Track time (ms) of the embedding it holds. */
  tMs: number;
}

export interface PendingVector {
  tMs: number;
  vector: Float32Array;
}

/** The vector scaled to length 1; undefined when it has a non-finite component or is all zeros. */
export function unitVector(v: ArrayLike<number>): Float32Array | undefined {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
    s += x * x;
  }
  if (s === 0) return undefined;
  const inv = 1 / Math.sqrt(s);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/** 1 - cosine similarity of two unit vectors. */
function cosineDistance(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] * b[i];
  return 1 - d;
}

export class RepresentativeChoice {
  constructor(
    readonly maxPerTrack: number,
    readonly minDistance: number,
    /** A representative is rewritten at most once per this much track time (0: with every embedding). */
    readonly refreshMs: number,
  ) {}

  /** Where a new embedding goes: a new representative, or the nearest one it replaces (none: other dimension). */
  target(reps: readonly Representative[], v: Float32Array): Representative | 'new' | undefined {
    let nearest: Representative | undefined;
    let best = Infinity;
    for (const r of reps) {
      if (r.vector.length !== v.length) continue;
      const d = cosineDistance(r.vector, v);
      if (d < best) [best, nearest] = [d, r];
    }
    return reps.length < this.maxPerTrack && best >= this.minDistance ? 'new' : nearest;
  }

  /** Whether a pending vector is written now: a new representative, or refreshMs of track time after the one it replaces. */
  due(reps: readonly Representative[] | undefined, p: PendingVector): boolean {
    if (!reps) return true; // not loaded yet (the flush loads them)
    const target = this.target(reps, p.vector);
    return typeof target !== 'object' || p.tMs - target.tMs >= this.refreshMs;
  }
}
