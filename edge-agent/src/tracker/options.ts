// Tracker settings: spec.tracking fields plus association constants tuned on PETS09-S2L1 (see docs/benchmarks.md).
import { withDefaults } from '@mei/contracts/defaults';
import type { TrackingSpec } from '@mei/contracts/job';

/** spec.tracking's CRD defaults (the contract's), the rest of the options tuned here. */
const SPEC = withDefaults('tracking');
import type { AppearanceOptions } from './track.ts';

export interface TrackerOptions extends AppearanceOptions {
  /** spec.tracking.highThreshold: first-stage detections. */
  highThreshold: number;
  /** spec.tracking.lowThreshold: second-stage detections. */
  lowThreshold: number;
  /** Detections at or above this start new tracks (ByteTrack: highThreshold + 0.1; MEI: + 0.2, see below). */
  newTrackThreshold: number;
  /** spec.tracking.minHits. */
  minHits: number;
  /** spec.tracking.maxLostSeconds. */
  maxLostSeconds: number;
  /** spec.tracking.appearanceWeight: weight of the cosine distance in the fused cost. */
  appearanceWeight: number;
  /** Cost limit of stage 1 / 2 / 3 (a pair costing more stays unmatched). */
  matchThreshold: number;
  lowMatchThreshold: number;
  tentativeMatchThreshold: number;
  /** Boxes must overlap at least this much to match on motion. */
  minIou: number;
  /** Cosine distance above which two appearances are different people (the embedder's gateDistance). */
  appearanceGate: number;
  /** Cosine distance below which a lost track may be re-found without box overlap (half the gate). */
  reacquireGate: number;
  /** How far (box heights per missed frame) a lost track may be re-found by appearance. */
  reacquireSpeed: number;
  /** Also offer lost tracks the low-score detections in stage 2 (PETS09-S2L1: MOTA +0.1 to +0.7). */
  lostInLowStage: boolean;
  /**
   * An unambiguous track still gets a fresh embedding once its appearance is this old (appearanceNeeded), in
   * seconds so that the ReID load does not grow with the frame rate.
   */
  refreshSeconds: number;
  /** A detection overlapping another by more than this IoU does not update appearance. */
  crowdIou: number;
  /** A box within this fraction of the frame's size from its border is at the edge (exit detection). */
  edgeMargin: number;
  /** How long a track lost at the frame edge is kept for overlap matches (never re-found by appearance). */
  exitLostSeconds: number;
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  highThreshold: SPEC.highThreshold,
  lowThreshold: SPEC.lowThreshold,
  newTrackThreshold: 0.7,
  minHits: SPEC.minHits,
  maxLostSeconds: SPEC.maxLostSeconds,
  appearanceWeight: SPEC.appearanceWeight,
  matchThreshold: 0.8,
  lowMatchThreshold: 0.5,
  tentativeMatchThreshold: 0.7,
  minIou: 0.1,
  appearanceGate: 0.6,
  reacquireGate: 0.3,
  reacquireSpeed: 0.2,
  lostInLowStage: true,
  crowdIou: 0.3,
  edgeMargin: 0.01,
  exitLostSeconds: 0.5,
  // 1 s keeps each appearance the agent sends (one per track every 2 s, embedding-cadence.ts) at most 1 s
  // old; on PETS09-S2L1 MOTA/IDF1 were the same from 0.5 s (5 frames) to never (docs/benchmarks.md, #16).
  refreshSeconds: 1,
  emaAlpha: 0.9,
  gallerySize: 5,
  galleryEvery: 10,
};

export function assertTrackerOptions(o: TrackerOptions): void {
  const unit: Array<keyof TrackerOptions> = ['highThreshold', 'lowThreshold', 'newTrackThreshold', 'appearanceWeight', 'minIou', 'emaAlpha', 'crowdIou', 'edgeMargin'];
  for (const k of unit) {
    const v = o[k] as number;
    if (!(v >= 0 && v <= 1)) throw new Error(`tracker option ${k} must be in [0, 1], got ${v}`);
  }
  if (o.lowThreshold > o.highThreshold) throw new Error(`lowThreshold (${o.lowThreshold}) must not exceed highThreshold (${o.highThreshold})`);
  if (!(Number.isInteger(o.minHits) && o.minHits >= 1)) throw new Error(`minHits must be an integer >= 1, got ${o.minHits}`);
  if (!(o.maxLostSeconds >= 0)) throw new Error(`maxLostSeconds must be >= 0, got ${o.maxLostSeconds}`);
  if (!(o.exitLostSeconds >= 0)) throw new Error(`exitLostSeconds must be >= 0, got ${o.exitLostSeconds}`);
}

/** Tracker options from spec.tracking (unset fields keep the defaults). */
export function trackerOptionsFromSpec(spec: TrackingSpec | undefined): TrackerOptions {
  const s = withDefaults('tracking', spec);
  const high = s.highThreshold;
  return {
    ...DEFAULT_TRACKER_OPTIONS,
    highThreshold: high,
    lowThreshold: s.lowThreshold,
    // Births need more confidence than continuations: on PETS09-S2L1 (YOLOX-nano) + 0.2 instead of
    // ByteTrack's + 0.1 keeps a sign that scores ~0.55 from becoming a track (MOTA 75.6 -> 80.5).
    // (At most halfway from highThreshold to 1, so a strict highThreshold still lets tracks start.)
    newTrackThreshold: Math.min(high + 0.2, (high + 1) / 2),
    minHits: s.minHits,
    maxLostSeconds: s.maxLostSeconds,
    appearanceWeight: s.appearanceWeight,
  };
}
