// Synthetic person embeddings shaped like ReID output, for tests and scripts/bench-search.ts (real embeddings
// of a million people do not exist here). Deterministic for a seed, generated in chunks so a million 512-d
// vectors never sit in memory twice.
//
// Two profiles. Both: people share appearance "styles" (clothing, colours); identity i (of style i % styles)
// has direction U_i = norm(0.7*S + 0.71*own), so identities of one style are ~0.5 cosine apart; each sample
// gets a per-camera offset B_cam (domain shift), noise, and in 20% of samples an "occluder" (another person
// of the same block) blended in: hard positives and negatives.
//
// - "osnet" (default), calibrated on real OSNet x0.25 embeddings of the PETS09 video (6 572 detections):
//   those are non-negative, share a strong mean direction (norm of the mean of unit vectors 0.68), have
//   pairwise cosines 0.28-0.94 (1st-99th percentile, median 0.44) and 90% of their variance in 62 principal
//   components. So: sample = norm(0.65*M + 0.55*U_i + 0.15*B_cam + low-rank noise (norm 0.3) + isotropic
//   noise (norm 0.15) [+ 0.4*occluder]), with U_i, B_cam and the low-rank noise in a 64-d subspace, M fixed.
// - "isotropic": sample = norm(U_i + 0.3*B_cam + isotropic noise of norm 1.2 [+ 0.6*occluder]), all
//   directions in the full space. Far harder for graph indexes than real embeddings: locally the data is
//   512-dimensional, so there is little gradient toward a person's cluster.
//
// Each identity belongs to one job, is seen on 1-3 of its cameras around one moment of a 30-day span; each
// sample is a track of 2-60 s there.
import type { VectorMeta } from '../../server/vector-index/types.ts';

export interface SyntheticOptions {
  n: number;
  dim: number;
  seed?: number;
  /** Samples per identity (default 20: N/20 identities). */
  perIdentity?: number;
  profile?: 'osnet' | 'isotropic';
  jobs?: number;
  camerasPerJob?: number;
  styles?: number;
  /** Weight of the shared style in an identity's centre (the rest is individual). */
  styleWeight?: number;
  cameraBias?: number;
  noise?: number;
  t0Ms?: number;
  spanMs?: number;
}

export interface SyntheticChunk {
  /** Index of the first sample; sample i gets id i + 1. */
  first: number;
  count: number;
  vectors: Float32Array;
  metas: VectorMeta[];
  identities: Uint32Array;
}

export interface SyntheticQuery {
  vector: Float32Array;
  identity: number;
  jobUid: string;
  cameras: string[];
  /** When the identity was around. */
  timeMs: number;
}

/** xorshift32: fast and good enough for noise; seeded per purpose so any part can be regenerated alone. */
function rng(seed: number) {
  let x = (seed | 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
/** Dimension of the osnet profile's subspace (real OSNet: 90% of variance in 62 components). */
const RANK = 64;
const mix = (a: number, b: number) => Math.imul(a ^ (b + 0x9e3779b9 + (a << 6) + (a >>> 2)), 0x85ebca6b) ^ b;

function unitRandom(r: () => number, out: Float32Array): Float32Array {
  let s = 0;
  for (let j = 0; j < out.length; j++) {
    // Sum of two uniforms: zero-mean and cheap; direction matters, not the exact distribution.
    const x = r() + r() - 1;
    out[j] = x;
    s += x * x;
  }
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < out.length; j++) out[j] *= inv;
  return out;
}

export class SyntheticEmbeddings {
  readonly o: Required<SyntheticOptions>;
  readonly identities: number;
  private readonly styleDirs: Float32Array[];
  private readonly camDirs: Float32Array[];
  /** osnet profile: the 64-d subspace (rows) and the shared mean direction. */
  private readonly basis?: Float32Array[];
  private readonly mean?: Float32Array;

  constructor(opts: SyntheticOptions) {
    this.o = {
      seed: 1,
      perIdentity: 20,
      jobs: 8,
      camerasPerJob: 4,
      styles: 200,
      profile: 'osnet',
      styleWeight: 0.7,
      cameraBias: 0.3,
      noise: 1.2,
      t0Ms: Date.UTC(2026, 0, 1),
      spanMs: 30 * 24 * 3600_000,
      ...opts,
    };
    const o = this.o;
    if (!Number.isInteger(o.n) || o.n < 1) throw new RangeError('n must be a positive integer');
    if (!Number.isInteger(o.dim) || o.dim < 2) throw new RangeError('dim must be an integer >= 2');
    this.identities = Math.max(1, Math.ceil(o.n / o.perIdentity));
    if (o.profile !== 'osnet' && o.profile !== 'isotropic') throw new RangeError(`profile must be osnet or isotropic (got ${String(o.profile)})`);
    if (o.profile === 'osnet') {
      this.basis = Array.from({ length: RANK }, (_, b) => unitRandom(rng(mix(o.seed, 0xba515 + b)), new Float32Array(o.dim)));
      this.mean = unitRandom(rng(mix(o.seed, 0x3ea7)), new Float32Array(o.dim));
    }
    this.styleDirs = Array.from({ length: o.styles }, (_, s) => this.direction(rng(mix(o.seed, 0x5717e + s)), new Float32Array(o.dim)));
    this.camDirs = Array.from({ length: o.jobs * o.camerasPerJob }, (_, c) => this.direction(rng(mix(o.seed, 0xca3 + c)), new Float32Array(o.dim)));
  }

  jobUid(job: number): string {
    return `00000000-0000-4000-8000-${job.toString(16).padStart(12, '0')}`;
  }
  jobOf(identity: number): number {
    return (mix(this.o.seed, identity) >>> 0) % this.o.jobs;
  }
  /** Global camera indices the identity is seen on (1-3 of its job's cameras). */
  camerasOf(identity: number): number[] {
    const r = rng(mix(this.o.seed, 0xc0 + identity * 7));
    const job = this.jobOf(identity);
    const k = 1 + Math.floor(r() * Math.min(3, this.o.camerasPerJob));
    const first = Math.floor(r() * this.o.camerasPerJob);
    return Array.from({ length: k }, (_, i) => job * this.o.camerasPerJob + ((first + i) % this.o.camerasPerJob));
  }
  timeOf(identity: number): number {
    return this.o.t0Ms + Math.floor(rng(mix(this.o.seed, 0x71 + identity * 13))() * this.o.spanMs);
  }

  /** A random unit direction: anywhere (isotropic) or in the 64-d subspace (osnet). */
  private direction(r: () => number, out: Float32Array): Float32Array {
    if (!this.basis) return unitRandom(r, out);
    const g = unitRandom(r, new Float32Array(RANK));
    this.span(g, 1, out.fill(0));
    let s = 0;
    for (let j = 0; j < out.length; j++) s += out[j] * out[j];
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < out.length; j++) out[j] *= inv;
    return out;
  }

  /** out += scale * (basis^T g). */
  private span(g: Float32Array, scale: number, out: Float32Array): void {
    for (let b = 0; b < RANK; b++) {
      const c = g[b] * scale;
      const row = this.basis![b];
      for (let j = 0; j < out.length; j++) out[j] += c * row[j];
    }
  }

  /** The identity's noise-free vector (not unit length in the osnet profile). */
  centre(identity: number, out = new Float32Array(this.o.dim)): Float32Array {
    this.direction(rng(mix(this.o.seed, 0x1d + identity * 31)), out);
    const style = this.styleDirs[identity % this.o.styles];
    const w = this.o.styleWeight;
    const u = Math.sqrt(1 - w * w);
    let s = 0;
    for (let j = 0; j < out.length; j++) {
      out[j] = w * style[j] + u * out[j];
      s += out[j] * out[j];
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < out.length; j++) out[j] *= inv;
    if (this.mean) for (let j = 0; j < out.length; j++) out[j] = 0.65 * this.mean[j] + 0.55 * out[j];
    return out;
  }

  /** One noisy sample of `identity` seen on global camera `cam`, written (unit length) into out. */
  private sample(centre: Float32Array, cam: number, r: () => number, out: Float32Array, occluder?: Float32Array): void {
    const osnet = !!this.basis;
    const { dim } = this.o;
    const cameraBias = osnet ? 0.15 : this.o.cameraBias;
    const noise = osnet ? 0.15 : this.o.noise;
    const bias = this.camDirs[cam];
    const amp = noise * Math.sqrt(6 / dim); // sum of two uniforms has variance 1/6 per component
    const occ = occluder && r() < 0.2 ? (osnet ? 0.4 : 0.6) : 0;
    if (osnet) {
      // Low-rank part of the noise, norm ~0.3, added below through `out`.
      const g = new Float32Array(RANK);
      for (let b = 0; b < RANK; b++) g[b] = r() + r() - 1;
      out.fill(0);
      this.span(g, 0.3 * Math.sqrt(6 / RANK), out);
    }
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const x = (osnet ? out[j] : 0) + centre[j] + cameraBias * bias[j] + amp * (r() + r() - 1) + (occ && occ * occluder![j]);
      out[j] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) out[j] *= inv;
  }

  /**
   * Samples in chunks. Samples come in blocks of whole identities, shuffled inside the block, so that
   * arrival order interleaves people as in live ingestion while only one block's centres exist at a time.
   */
  *chunks(chunkSize = 10_000): Generator<SyntheticChunk> {
    const { n, dim, perIdentity } = this.o;
    const per = perIdentity;
    const blockIds = Math.max(1, Math.floor(chunkSize / per));
    for (let firstId = 0, first = 0; first < n; firstId += blockIds) {
      const ids = Math.min(blockIds, this.identities - firstId);
      const count = Math.min(ids * per, n - first);
      const r = rng(mix(this.o.seed, 0xb10c + firstId));
      // Fisher-Yates over the block's sample positions.
      const order = new Uint32Array(count);
      for (let i = 0; i < count; i++) order[i] = i;
      for (let i = count - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      const centres = Array.from({ length: ids }, (_, i) => this.centre(firstId + i));
      const vectors = new Float32Array(count * dim);
      const metas: VectorMeta[] = new Array(count);
      const identities = new Uint32Array(count);
      for (let p = 0; p < count; p++) {
        const local = Math.floor(order[p] / per);
        const identity = firstId + local;
        const cams = this.camerasOf(identity);
        const cam = cams[Math.floor(r() * cams.length)];
        const other = centres[Math.floor(r() * ids)];
        this.sample(centres[local], cam, r, vectors.subarray(p * dim, (p + 1) * dim), other === centres[local] ? undefined : other);
        const job = this.jobOf(identity);
        const start = this.timeOf(identity) + Math.floor(r() * 600_000);
        metas[p] = {
          jobUid: this.jobUid(job),
          camera: `cam-${cam}`,
          startMs: start,
          endMs: start + 2000 + Math.floor(r() * 58_000),
        };
        identities[p] = identity;
      }
      yield { first, count, vectors, metas, identities };
      first += count;
    }
  }

  /** Fresh samples (not in the data set) of random identities, to search with. */
  queries(count: number, seed = 7): SyntheticQuery[] {
    const r = rng(mix(this.o.seed, 0x9e + seed));
    const c = new Float32Array(this.o.dim);
    return Array.from({ length: count }, () => {
      const identity = Math.floor(r() * this.identities);
      const cams = this.camerasOf(identity);
      const vector = new Float32Array(this.o.dim);
      this.sample(this.centre(identity, c), cams[Math.floor(r() * cams.length)], r, vector);
      return {
        vector,
        identity,
        jobUid: this.jobUid(this.jobOf(identity)),
        cameras: cams.map((x) => `cam-${x}`),
        timeMs: this.timeOf(identity),
      };
    });
  }
}

/** The raw SQL a seeding function needs (server/store/db.ts SqlClient satisfies it). */
interface SqlLike {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/**
 * Writes the synthetic samples as tracks + embeddings rows (one track per sample, ids = sample index + 1 +
 * idOffset, so by default the database ids equal the ids the chunks get in memory). For tests and the
 * loading benchmark.
 */
export async function insertSynthetic(sql: SqlLike, syn: SyntheticEmbeddings, model: string, rowsPerInsert = 200, idOffset = 0): Promise<number> {
  const dim = syn.o.dim;
  let rows = 0;
  for (const c of syn.chunks(rowsPerInsert * 10)) {
    for (let from = 0; from < c.count; from += rowsPerInsert) {
      const to = Math.min(c.count, from + rowsPerInsert);
      const tracks: string[] = [];
      const embeds: string[] = [];
      const tp: unknown[] = [];
      const ep: unknown[] = [];
      for (let i = from; i < to; i++) {
        const id = c.first + i + 1 + idOffset;
        const m = c.metas[i];
        const b = tp.length;
        tracks.push(`($${b + 1}::bigint, $${b + 2}::uuid, 'bench/job', $${b + 3}, $${b + 1}::int, $${b + 4}::bigint, $${b + 5}::bigint)`);
        tp.push(id, m.jobUid, m.camera, m.startMs, m.endMs);
        const e = ep.length;
        embeds.push(`($${e + 1}::bigint, $${e + 1}::bigint, $${e + 2}::bigint, $${e + 3}, ${dim}, $${e + 4}::real[])`);
        ep.push(id, m.startMs, model, Array.from(c.vectors.subarray(i * dim, (i + 1) * dim)));
      }
      await sql.query(`INSERT INTO tracks (id, job_uid, job_key, camera, local_id, start_ms, end_ms) VALUES ${tracks.join(',')}`, tp);
      await sql.query(`INSERT INTO embeddings (id, track_id, t_ms, model, dim, vector) VALUES ${embeds.join(',')}`, ep);
      rows += to - from;
    }
  }
  // Explicit ids bypassed the sequences: move them past the rows so later inserts do not collide.
  await sql.query(`SELECT setval(pg_get_serial_sequence('tracks', 'id'), (SELECT max(id) FROM tracks))`);
  await sql.query(`SELECT setval(pg_get_serial_sequence('embeddings', 'id'), (SELECT max(id) FROM embeddings))`);
  return rows;
}
