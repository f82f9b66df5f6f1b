// Scripted multi-camera scenes for the identity service tests: people as random unit vectors, tracks as
// (camera, localId, time span, appearance), turned into the ObservationBatches an agent would send.
import type { ObservationBatch } from '@mei/contracts';
import { seededRandom } from '../support/random.ts';

/** Deterministic PRNG (shared mulberry32). */
export const rng = seededRandom;

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s);
  return v.map((x) => x * k);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A random direction in `dim` dimensions: a person's true appearance. */
export function person(seed: number, dim = 128): Float32Array {
  const r = rng(seed);
  return unit(Float32Array.from({ length: dim }, () => gauss(r)));
}

/** A unit vector at exactly cosine distance `d` from p (towards a random direction). */
export function atDistance(p: Float32Array, d: number, seed: number): Float32Array {
  const q = person(seed, p.length);
  const c = dot(p, q);
  const u = unit(q.map((x, i) => x - c * p[i])); // orthogonal to p
  const cos = 1 - d;
  const sin = Math.sqrt(Math.max(0, 1 - cos * cos));
  return p.map((x, i) => cos * x + sin * u[i]);
}

/** p plus isotropic noise: about 0.5 * sigma^2 cosine distance from p. */
export function noisy(p: Float32Array, sigma: number, r: () => number): Float32Array {
  const k = sigma / Math.sqrt(p.length);
  return unit(p.map((x) => x + k * gauss(r)));
}

export interface ScriptedTrack {
  camera: string;
  localId: number;
  fromMs: number;
  /** Inclusive. */
  toMs: number;
  /** The embedding the agent sends at time t (the k-th one of this track). */
  appearance: (tMs: number, k: number) => Float32Array;
  embedEveryMs?: number;
  /** First embedding this long after the track appears (a tracker confirms tracks after a few frames). */
  firstEmbedAfterMs?: number;
  state?: 'tentative' | 'confirmed';
  /** Box in the camera's pixels at time t (default a fixed 40x100 box). */
  box?: (tMs: number) => { x: number; y: number; w: number; h: number };
}

export interface SceneOptions {
  cameras: string[];
  stepMs?: number;
  jobKey?: string;
  /** Added to every timestamp of a camera (its clock is off). */
  skewMs?: Record<string, number>;
  /** Frames per batch. */
  framesPerBatch?: number;
}

/** Per camera, the batches in seq order. */
export function sceneBatches(tracks: ScriptedTrack[], o: SceneOptions): Map<string, ObservationBatch[]> {
  const step = o.stepMs ?? 100;
  const per = o.framesPerBatch ?? 1;
  const end = Math.max(...tracks.map((t) => t.toMs));
  const out = new Map<string, ObservationBatch[]>();
  for (const camera of o.cameras) {
    const skew = o.skewMs?.[camera] ?? 0;
    const batches: ObservationBatch[] = [];
    const counts = new Map<ScriptedTrack, number>();
    let cur: ObservationBatch | null = null;
    for (let t = 0, frame = 0; t <= end; t += step, frame++) {
      if (!cur || cur.frames.length >= per) {
        cur = { jobKey: o.jobKey ?? 'default/scene', camera, seq: batches.length, frames: [], embeddings: [] };
        batches.push(cur);
      }
      const here = tracks.filter((tr) => tr.camera === camera && tr.fromMs <= t && t <= tr.toMs);
      cur.frames.push({
        frameIndex: frame,
        timestampMs: t + skew,
        emittedAt: t + skew,
        width: 640,
        height: 480,
        tracks: here.map((tr) => ({ id: tr.localId, ...(tr.box?.(t) ?? { x: 10, y: 10, w: 40, h: 100 }), score: 0.9, state: tr.state ?? 'confirmed' })),
      });
      for (const tr of here) {
        const every = tr.embedEveryMs ?? 500;
        const since = t - tr.fromMs - (tr.firstEmbedAfterMs ?? 0);
        if (since >= 0 && since % every === 0) {
          const k = counts.get(tr) ?? 0;
          counts.set(tr, k + 1);
          cur.embeddings!.push({ id: tr.localId, vector: Array.from(tr.appearance(t, k)) });
        }
      }
    }
    out.set(camera, batches);
  }
  return out;
}

/**
 * All batches of all cameras in one arrival order: each camera's own order (seq) is kept; across cameras
 * the order is by time, or random (seeded) to model independent agents and network delays.
 */
export function interleave(perCamera: Map<string, ObservationBatch[]>, order: 'time' | { seed: number }): ObservationBatch[] {
  const queues = [...perCamera.values()].map((q) => [...q]);
  const out: ObservationBatch[] = [];
  if (order === 'time') {
    const all = queues.flat();
    return all.sort((a, b) => a.frames[0].timestampMs - b.frames[0].timestampMs || a.camera.localeCompare(b.camera));
  }
  const r = rng(order.seed);
  while (queues.some((q) => q.length)) {
    const open = queues.filter((q) => q.length);
    const q = open[Math.floor(r() * open.length)];
    // Bursts: an agent often delivers several batches back to back.
    const burst = 1 + Math.floor(r() * 4);
    for (let i = 0; i < burst && q.length; i++) out.push(q.shift()!);
  }
  return out;
}
