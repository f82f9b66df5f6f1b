// createTracker(spec.tracking): the per-camera tracker the pipeline runs.
import type { TrackingSpec } from '@mei/contracts/job';
import type { Detection, TrackOutput } from '@mei/vision/types';
import { ByteTracker, type FrameSize } from './byteTracker.ts';
import { trackerOptionsFromSpec, type TrackerOptions } from './options.ts';
import { SingleTargetSelector } from './singleTarget.ts';

export { ByteTracker, type FrameSize } from './byteTracker.ts';
export { DEFAULT_TRACKER_OPTIONS, trackerOptionsFromSpec, type TrackerOptions } from './options.ts';
export { SingleTargetSelector } from './singleTarget.ts';
export { matchWithLimit } from './assignment.ts';

export interface Tracker {
  /** One frame: detections, their embeddings (aligned, optional), capture time, frame size. Returns live tracks. */
  update(dets: Detection[], embeddings: ReadonlyArray<Float32Array | undefined> | undefined, timestampMs: number, frame?: FrameSize): TrackOutput[];
  /** Which detections need an embedding this frame (absent: all). */
  appearanceNeeded?(dets: readonly Detection[], timestampMs: number): boolean[];
  /** A frame the detector skipped: tracks move on their motion model (absent: detect every frame). */
  coast?(): TrackOutput[];
  /** Fastest confirmed track's motion per frame in box widths (ByteTracker.motionPerFrame; absent: 0). */
  motionPerFrame?(): number;
}

/** Cosine distance under which a track is the single-mode target (for ReID-network embeddings). */
export const DEFAULT_TARGET_DISTANCE = 0.3;

export function createTracker(
  spec: TrackingSpec | undefined,
  overrides: Partial<TrackerOptions> = {},
  targetDistance = DEFAULT_TARGET_DISTANCE,
): Tracker {
  const tracker = new ByteTracker({ ...trackerOptionsFromSpec(spec), ...overrides });
  if (spec?.type !== 'single') return tracker;
  const embedding = spec.target?.embedding;
  if (!embedding) {
    throw new Error('spec.tracking.target.embedding: single-object mode needs a target embedding (resolve target.identity to one first)');
  }
  const selector = new SingleTargetSelector(embedding, targetDistance);
  return {
    update: (dets, embs, ts, frame) => selector.select(tracker.update(dets, embs, ts, frame)),
    appearanceNeeded: (dets, ts) => tracker.appearanceNeeded(dets, ts),
    coast: () => selector.select(tracker.coast()),
    motionPerFrame: () => tracker.motionPerFrame(),
  };
}
