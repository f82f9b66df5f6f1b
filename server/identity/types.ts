// Public types of the cross-camera identity service (cloud side of MEI).
import { withDefaults, type CameraSpec, type CrossCameraSpec } from '@mei/contracts';
import type { CameraView, ColocationOptions } from './colocation.ts';

/** Defaults of spec.crossCamera, from the contract (generated from the CRD). */
export const CROSS_CAMERA_DEFAULTS: Required<CrossCameraSpec> = withDefaults('crossCamera');

export interface IdentityServiceOptions {
  /** The job's cameras: names and (symmetric) overlaps. */
  cameras: ReadonlyArray<Pick<CameraSpec, 'name' | 'overlaps'>>;
  crossCamera?: CrossCameraSpec;
  /** Clock skew tolerated between cameras: presence overlapping by at most this is not "at the same time". */
  skewToleranceMs?: number;
  /** Sample embeddings kept per identity besides its EMA (one mean per recent tracklet segment). */
  gallerySamples?: number;
  /** Weight of a new embedding in an identity's EMA. */
  emaAlpha?: number;
  /** Embeddings a segment needs before it may drift-split, be moved out of its identity or trigger a merge. */
  minEvidence?: number;
  /** Consecutive embeddings beyond the threshold from a segment's mean that split the tracklet there. */
  driftPatience?: number;
  /** A merge needs distance <= matchThreshold * (1 - mergeMargin): merges are not undone, so be stricter. */
  mergeMargin?: number;
  /** A tracklet leaves its identity when its distance to the rest exceeds matchThreshold * (1 + splitMargin). */
  splitMargin?: number;
  /** A tracklet moves to another identity that is closer than the rest of its own by more than this. */
  switchMargin?: number;
  /** How far one camera's timestamps may trail the newest seen (late batches, slow agents). */
  maxLagMs?: number;
  /** Ended tracklets and identities older than this (behind the newest timestamp) are forgotten; Infinity keeps all. */
  retainMs?: number;
  /** Prefix of identity ids ("P" gives P1, P2, ...). */
  idPrefix?: string;
  /**
   * Cameras that share pixels (virtual cameras cut from one source; see sharedViews()): boxes that
   * coincide in the shared region link their tracks as one person. createIdentityService fills it from the spec.
   */
  views?: Record<string, CameraView>;
  colocation?: ColocationOptions;
}

export type IdentityEvent =
  | { type: 'assigned'; camera: string; localId: number; identity: string; timestampMs: number }
  /** Every tracklet of `from` now belongs to `into` (the older id is kept); UIs relabel `from` as `into`. */
  | { type: 'merged'; from: string; into: string; timestampMs: number }
  /** The tracklet left identity `from` (misassigned, or its local track switched to another person). */
  | { type: 'split'; camera: string; localId: number; from: string; to: string; timestampMs: number };

export interface IdentityStats {
  /** Identities alive (not merged away, not forgotten). */
  identities: number;
  /** Identities in the active index (seen within the hand-off window). */
  activeIdentities: number;
  tracklets: number;
  /** Embedding dimension (0 before the first embedding). */
  dim: number;
  assignments: number;
  merges: number;
  splits: number;
  /** Track pairs linked because they coincided in pixels two cameras share. */
  colocatedPairs: number;
  /** Identities scored against a vector so far (each costs (samples + 1) dot products of length dim). */
  candidatesScored: number;
  /** Largest number of identities scored for one query. */
  maxCandidatesPerQuery: number;
}

/** Bad input, with the field that is wrong (e.g. `camera`, `embeddings[2].vector`). */
export class IdentityInputError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'IdentityInputError';
    this.field = field;
  }
}
