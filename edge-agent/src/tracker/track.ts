// One tracked person: Kalman state, lifecycle counters and a representative appearance.
import type { Box, Detection, TrackOutput, TrackState } from '@mei/vision/types';
import { cosineDistance, l2NormalizeInPlace } from '@mei/vision/vector';
import { initiate, predict, stateToBox, toMeasurement, update, type KalmanState } from './kalman.ts';

export interface AppearanceOptions {
  /** EMA momentum of the representative embedding (BoT-SORT: 0.9). */
  emaAlpha: number;
  /** Stored past samples besides the EMA (appearance changes with pose and light). */
  gallerySize: number;
  /** Store a sample every this many appearance updates. */
  galleryEvery: number;
}

export class Track {
  state: TrackState = 'tentative';
  /** Consecutive frames with a match. */
  hits = 1;
  /** Frames since the last match (0 = matched this frame). */
  missed = 0;
  /** Lost at the frame edge: probably out of view (set when the track misses its first frame). */
  exited = false;
  score: number;
  lastSeenMs: number;
  embedding: Float32Array | undefined;
  readonly gallery: Float32Array[] = [];
  private appearanceUpdates = 0;
  /** Capture time of the frame that last updated the appearance (undefined: never). */
  appearanceAtMs: number | undefined;
  readonly kf: KalmanState;

  constructor(
    readonly id: number,
    det: Detection,
    embedding: Float32Array | undefined,
    timestampMs: number,
    private readonly app: AppearanceOptions,
  ) {
    this.kf = initiate(toMeasurement(det));
    this.score = det.score;
    this.lastSeenMs = timestampMs;
    if (embedding) this.addAppearance(embedding, timestampMs);
  }

  /** Current (predicted or updated) box. */
  get box(): Box {
    return stateToBox(this.kf.mean);
  }

  /** Where the next predict() will put the box (without changing the state). */
  nextBox(): Box {
    const m = this.kf.mean;
    return { x: m[0] + m[4] - (m[2] + m[6]) / 2, y: m[1] + m[5] - (m[3] + m[7]) / 2, w: m[2] + m[6], h: m[3] + m[7] };
  }

  /** Centre speed on the Kalman velocity, in box widths per frame. */
  motionPerFrame(): number {
    const m = this.kf.mean;
    return Math.hypot(m[4], m[5]) / Math.max(m[2], 1);
  }

  predict(): void {
    // A box whose height would collapse makes the filter's noise model degenerate; freeze the size instead.
    if (this.kf.mean[3] + this.kf.mean[7] <= 1) this.kf.mean[7] = 0;
    if (this.kf.mean[2] + this.kf.mean[6] <= 1) this.kf.mean[6] = 0;
    predict(this.kf);
  }

  /** Takes a matched detection. `embedding` is omitted when the crop is unreliable (occluded, low score). */
  match(det: Detection, embedding: Float32Array | undefined, timestampMs: number): void {
    update(this.kf, toMeasurement(det));
    this.score = det.score;
    this.lastSeenMs = timestampMs;
    this.hits = this.missed === 0 ? this.hits + 1 : 1;
    this.missed = 0;
    this.exited = false;
    if (embedding) this.addAppearance(embedding, timestampMs);
  }

  markMissed(): void {
    this.missed++;
    this.hits = 0;
  }

  /** Smallest cosine distance of `e` to the EMA embedding or a stored sample; undefined without appearance. */
  appearanceDistance(e: Float32Array): number | undefined {
    if (!this.embedding) return undefined;
    let d = cosineDistance(this.embedding, e);
    for (const g of this.gallery) d = Math.min(d, cosineDistance(g, e));
    return d;
  }

  private addAppearance(e: Float32Array, timestampMs: number): void {
    this.appearanceAtMs = timestampMs;
    // A new array each time: outputs handed out earlier keep the value they had.
    if (!this.embedding) {
      this.embedding = Float32Array.from(e);
    } else {
      const a = this.app.emaAlpha;
      const prev = this.embedding;
      this.embedding = l2NormalizeInPlace(prev.map((v, i) => a * v + (1 - a) * e[i]));
    }
    if (this.app.gallerySize > 0 && this.appearanceUpdates % this.app.galleryEvery === 0) {
      this.gallery.push(Float32Array.from(e));
      if (this.gallery.length > this.app.gallerySize) this.gallery.shift();
    }
    this.appearanceUpdates++;
  }

  toOutput(): TrackOutput {
    const b = this.box;
    return { id: this.id, x: b.x, y: b.y, w: b.w, h: b.h, score: this.score, state: this.state, embedding: this.embedding };
  }
}
