// When a track's embedding goes out (again): the one rule the agent and the benchmarks share.
//  - with the track's first confirmed frame;
//  - when its look changed: the tracker's smoothed embedding is LOOK_CHANGE_DISTANCE (cosine) or more away
//    from the one last sent, but not sooner than EMBEDDING_EVERY_MS after it;
//  - else at the identity refresh, EMBEDDING_REFRESH_MS after the last one.
// Why: the identity service re-decides a track's identity on every embedding, so more of them means more
// chances to act on a noisy look (bench:mtmc on the two-camera PETS09-S2L1 split: every 0.5 s -> cross-camera
// IDF1 0.789, every 1 s or 2 s -> 0.823), and an unchanged look adds nothing but bytes: at 2 s per track the
// embeddings were two thirds of what left the edge (bench:bandwidth). A change of look (a turn, leaving an
// occlusion, the tracker switching person) is what the service needs to hear about, well before it drifts by
// its match threshold (0.2). Cadence runs on video time, so a history job processed faster than real time
// sends the same evidence as a live one.
import { cosineDistance } from '@mei/vision/vector';

/** Embeddings of one track are at least this much video time apart (a look change waits for it). */
export const EMBEDDING_EVERY_MS = 2_000;
/** An unchanged look is sent again after this much video time. */
export const EMBEDDING_REFRESH_MS = 6_000;
/**
 * Cosine distance from the last sent embedding that counts as a new look. 0.07: on the two-camera PETS09
 * split (bench:mtmc / bench:person-search --replay-frames, one recording) it sends 130 embeddings instead of
 * 121 at 0.1, cross-camera IDF1 unchanged, person-search mAP 75.1 instead of 73.7 (fixed 2 s cadence: 287
 * embeddings, 75.2). Chosen as the fewest embeddings that kept both within 0.5 point; neighbouring settings
 * (0.05: mAP 72.9) show that mAP on 19 queries moves by about 2 points with which embeddings happen to go out.
 */
export const LOOK_CHANGE_DISTANCE = 0.07;
/**
 * A track's second embedding (its settled look) goes out this much video time after the first (Infinity:
 * off). Off: on the same split a second embedding at 2 s or 3 s cost 2.8-3.0 points of cross-camera IDF1
 * (the identity service re-decides on it).
 */
export const EMBEDDING_SECOND_MS = Infinity;

export interface EmbeddingCadenceOptions {
  everyMs?: number;
  refreshMs?: number;
  lookChange?: number;
  /**
   * A track's second embedding goes out this long after its first, changed look or not (Infinity: only by
   * the look-change and refresh rules). The first is the tracker's mean of a few detections; a second,
   * settled one gives the history store a better representative (see the constant's comment).
   */
  secondMs?: number;
}

export class EmbeddingCadence {
  private readonly sent = new Map<number, { at: number; vector?: Float32Array; count: number }>();
  private readonly everyMs: number;
  private readonly refreshMs: number;
  private readonly lookChange: number;
  private readonly secondMs: number;

  /** A number: the old fixed cadence (every that many ms, look changes ignored); tests and --embed-every-ms. */
  constructor(o: EmbeddingCadenceOptions | number = {}) {
    const opts = typeof o === 'number' ? { everyMs: o, refreshMs: o, lookChange: Infinity, secondMs: Infinity } : o;
    this.everyMs = opts.everyMs ?? EMBEDDING_EVERY_MS;
    this.refreshMs = Math.max(this.everyMs, opts.refreshMs ?? EMBEDDING_REFRESH_MS);
    this.lookChange = opts.lookChange ?? LOOK_CHANGE_DISTANCE;
    this.secondMs = Math.max(this.everyMs, opts.secondMs ?? EMBEDDING_SECOND_MS);
  }

  /**
   * Whether track `id` seen at `timestampMs` with embedding `vector` should send it now (records it if so).
   * Without a vector only the clock decides (every refresh).
   */
  due(id: number, timestampMs: number, vector?: ArrayLike<number>): boolean {
    const last = this.sent.get(id);
    // Time going backwards (a looped file restarts its clock) counts as due.
    if (last !== undefined && timestampMs >= last.at) {
      const elapsed = timestampMs - last.at;
      if (elapsed < this.everyMs) return false;
      const changed = vector !== undefined && last.vector !== undefined && cosineDistance(vector, last.vector) >= this.lookChange;
      const second = last.count === 1 && elapsed >= this.secondMs;
      if (elapsed < this.refreshMs && !changed && !second) return false;
    }
    const count = last !== undefined && timestampMs >= last.at ? last.count + 1 : 1;
    this.sent.set(id, { at: timestampMs, vector: vector === undefined || !Number.isFinite(this.lookChange) ? undefined : Float32Array.from(vector), count });
    if (this.sent.size > 1000) for (const [k, s] of this.sent) if (Math.abs(timestampMs - s.at) > 60_000) this.sent.delete(k);
    return true;
  }
}
