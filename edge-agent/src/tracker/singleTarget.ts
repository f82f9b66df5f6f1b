// Single-object mode: track everyone (so identities stay consistent), report only the track that looks
// most like the target embedding, and stay with it while it keeps looking like the target.
import type { TrackOutput } from '@mei/vision/types';
import { cosineDistance, l2NormalizeInPlace } from '@mei/vision/vector';

export class SingleTargetSelector {
  private readonly target: Float32Array;
  private currentId: number | undefined;

  constructor(
    target: ArrayLike<number>,
    /** Largest cosine distance for a track to be the target. */
    readonly maxDistance: number,
    /** Extra distance allowed to the track already followed, so the choice does not flicker. */
    readonly hysteresis = 0.05,
  ) {
    if (target.length < 8) throw new Error(`target embedding needs at least 8 values, got ${target.length}`);
    this.target = l2NormalizeInPlace(Float32Array.from(target));
  }

  /** The followed track among `tracks` (confirmed, with an embedding), or none. */
  select(tracks: TrackOutput[]): TrackOutput[] {
    let best: TrackOutput | undefined;
    let bestD = Infinity;
    for (const t of tracks) {
      if (t.state !== 'confirmed' || !t.embedding) continue;
      if (t.embedding.length !== this.target.length) {
        throw new Error(`target embedding has ${this.target.length} values but the ReID model gives ${t.embedding.length}`);
      }
      const d = cosineDistance(this.target, t.embedding) - (t.id === this.currentId ? this.hysteresis : 0);
      if (d < bestD) {
        bestD = d;
        best = t;
      }
    }
    if (!best || bestD > this.maxDistance) return [];
    this.currentId = best.id;
    return [best];
  }
}
