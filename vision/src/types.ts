// The stage contracts of the edge pipeline: source -> detector -> reid -> tracker -> transport.
// Each stage is a plugin behind one of these small interfaces.

/** One decoded video frame, packed RGB24 (row-major, 3 bytes per pixel). */
export interface Frame {
  /** 0-based index in the source (MOTChallenge frame number = index + 1). */
  index: number;
  /** Capture time in ms: wall clock for live sources, index / fps * 1000 for recorded ones. */
  timestampMs: number;
  width: number;
  height: number;
  data: Uint8Array;
}

/** An axis-aligned box in frame pixels (top-left x, y, width, height). */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Detection extends Box {
  score: number;
  /** COCO class id; MEI keeps class 0 (person). */
  classId: number;
}

/**
 * Which input a detection runs at: 'full' (the detector's input size) or 'reduced' (spec
 * models.detector.reducedInputScale; a detector without one runs every pass at full size).
 */
export type DetectPass = 'full' | 'reduced';

export interface Detector {
  readonly name: string;
  /** Persons in the frame, in frame pixel coordinates, after NMS. */
  detect(frame: Frame, pass?: DetectPass): Promise<Detection[]>;
  dispose(): Promise<void>;
  /** True when detect() computes off the main thread (a worker), so the pipeline can overlap it with ReID. */
  readonly offThread?: boolean;
}

export interface Embedder {
  readonly name: string;
  /** Embedding dimension. */
  readonly dim: number;
  /**
   * Cosine distance above which two embeddings are surely different people (the tracker's appearance veto).
   * Depends on how spread out the embedder's vectors are: ~0.6 for ReID networks, ~0.3 for colour histograms.
   */
  readonly gateDistance: number;
  /** One L2-normalised embedding per box, computed from crops of the frame (batched). */
  embed(frame: Frame, boxes: Box[]): Promise<Float32Array[]>;
  /** Crops of several frames (several cameras) in as few network runs as the batch size allows. */
  embedCrops?(crops: ReadonlyArray<{ frame: Frame; box: Box }>): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

import type { TrackState } from '@mei/contracts/events';
export type { TrackState };

export interface TrackOutput extends Box {
  /** Local track id, unique per camera and job run. */
  id: number;
  score: number;
  state: TrackState;
  /** Representative appearance of the track (EMA of its embeddings), when a ReID stage runs. */
  embedding?: Float32Array;
}
