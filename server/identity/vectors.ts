// Float32Array arithmetic for the identity service's hot loop. The edge agent has the same maths for
// ArrayLike inputs (edge-agent/src/reid/vector.ts); the server keeps its own Float32Array-only copy so it
// does not depend on the agent package and the loop stays monomorphic.

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/** Scales v to unit length in place; returns false for a zero (or non-finite) vector. */
export function normalizeInPlace(v: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (!(s > 0) || !Number.isFinite(s)) return false;
  const k = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= k;
  return true;
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
