// Embedding arithmetic, the one copy for the agent and the server (all embeddings in MEI are L2-normalised
// Float32Arrays). The server's identity loop only ever passes Float32Arrays, so its call sites stay monomorphic.

/** Scales v to unit length in place; returns false (leaving v unscaled) for a zero or non-finite vector. */
export function normalizeInPlace(v: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (!(s > 0) || !Number.isFinite(s)) return false;
  const k = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= k;
  return true;
}

/** normalizeInPlace, returning v (for expressions). */
export function l2NormalizeInPlace(v: Float32Array): Float32Array {
  normalizeInPlace(v);
  return v;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Cosine distance 1 - cos(a, b) of two unit vectors, in [0, 2]. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return 1 - dot(a, b);
}

/** a = normalize((1 - alpha) * a + alpha * b), in place. */
export function blendInPlace(a: Float32Array, b: Float32Array, alpha: number): void {
  const keep = 1 - alpha;
  for (let i = 0; i < a.length; i++) a[i] = keep * a[i] + alpha * b[i];
  normalizeInPlace(a);
}

export function addInPlace(acc: Float32Array, v: Float32Array, weight = 1): void {
  for (let i = 0; i < acc.length; i++) acc[i] += weight * v[i];
}
