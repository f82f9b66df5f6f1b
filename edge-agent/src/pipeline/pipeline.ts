// One camera's edge pipeline: source -> detector -> ReID embedder -> tracker, one frame at a time.
// Decoding runs in the ffmpeg child process (in parallel); the stages here run in sequence because on the
// small edge boxes MEI targets, onnxruntime already uses every core for each network.
import type { CameraSpec, ModelsSpec, TrackingSpec } from '@mei/contracts/job';
import { createDetector } from '../detectors/index.ts';
import { createEmbedder, HistogramEmbedder } from '../reid/index.ts';
import { openVideoSource, type SourceMode, type VideoSource } from '../sources/index.ts';
import { createTracker, type Tracker } from '../tracker/index.ts';
import { trackerOptionsFromSpec, type TrackerOptions } from '../tracker/options.ts';
import type { Detection, Detector, Embedder, Frame, TrackOutput } from './types.ts';

export interface StageTimings {
  /** Waiting for the next decoded frame (0 when the decoder is ahead). */
  sourceMs: number;
  detectMs: number;
  embedMs: number;
  trackMs: number;
  /** All of the above. */
  totalMs: number;
}

export interface FrameResult {
  /** 0-based source frame index (MOTChallenge frame = index + 1). */
  frameIndex: number;
  timestampMs: number;
  width: number;
  height: number;
  detections: Detection[];
  /** Live tracks; state 'confirmed' = seen in this frame (what a MOT result file lists). */
  tracks: TrackOutput[];
  timings: StageTimings;
  /** The decoded frame, for previews and thumbnails (do not keep it beyond the callback). */
  frame: Frame;
}

export interface PipelineSummary {
  frames: number;
  wallMs: number;
  fps: number;
  /** Mean ms per frame for each stage. */
  meanMs: StageTimings;
  /** Frames a live source dropped because the pipeline was slower than the camera. */
  dropped: number;
  /**
   * CPU time of this process (all its threads, user + system) per frame. On a shared machine wall-clock fps
   * depends on the neighbours; CPU time / available cores bounds what the pipeline needs alone.
   */
  cpuMsPerFrame: number;
}

export interface PipelineParts {
  source: AsyncIterable<Frame> & { close?(): Promise<void>; dropped?: number };
  detector: Detector;
  /** Optional: without it tracking is motion-only. */
  embedder?: Embedder;
  tracker: Tracker;
  /**
   * Only detections at or above this score are embedded (the low ones are matched on IoU alone), and of
   * those, when `lazyAppearance` is set, only the ones the tracker asks for (Tracker.appearanceNeeded).
   */
  embedMinScore: number;
  lazyAppearance?: boolean;
}

export interface Pipeline {
  /** Processes frames until the source ends or stop() is called; calls onResult for each frame. */
  run(onResult?: (r: FrameResult) => void | Promise<void>): Promise<PipelineSummary>;
  /** Stops after the current frame. */
  stop(): Promise<void>;
  /** Releases the source and the models. */
  dispose(): Promise<void>;
}

export function createPipeline(parts: PipelineParts): Pipeline {
  let stopped = false;
  const { source, detector, embedder, tracker } = parts;
  return {
    async run(onResult) {
      const sum: StageTimings = { sourceMs: 0, detectMs: 0, embedMs: 0, trackMs: 0, totalMs: 0 };
      let frames = 0;
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      const it = source[Symbol.asyncIterator]();
      try {
        while (!stopped) {
          const t0 = performance.now();
          const next = await it.next();
          if (next.done) break;
          const frame = next.value;
          const t1 = performance.now();
          const detections = await detector.detect(frame);
          const t2 = performance.now();
          let embeddings: Array<Float32Array | undefined> | undefined;
          if (embedder) {
            const needed = parts.lazyAppearance ? tracker.appearanceNeeded?.(detections) : undefined;
            const idx = detections.flatMap((d, i) => (d.score >= parts.embedMinScore && (needed?.[i] ?? true) ? [i] : []));
            const embs = await embedder.embed(frame, idx.map((i) => detections[i]));
            embeddings = new Array(detections.length);
            idx.forEach((di, k) => (embeddings![di] = embs[k]));
          }
          const t3 = performance.now();
          const tracks = tracker.update(detections, embeddings, frame.timestampMs);
          const t4 = performance.now();
          const timings = { sourceMs: t1 - t0, detectMs: t2 - t1, embedMs: t3 - t2, trackMs: t4 - t3, totalMs: t4 - t0 };
          for (const k of Object.keys(sum) as Array<keyof StageTimings>) sum[k] += timings[k];
          frames++;
          await onResult?.({
            frameIndex: frame.index,
            timestampMs: frame.timestampMs,
            width: frame.width,
            height: frame.height,
            detections,
            tracks,
            timings,
            frame,
          });
        }
      } finally {
        await it.return?.();
      }
      const wallMs = performance.now() - start;
      const cpu = process.cpuUsage(cpu0);
      const meanMs = { ...sum };
      for (const k of Object.keys(meanMs) as Array<keyof StageTimings>) meanMs[k] = frames ? sum[k] / frames : 0;
      return {
        frames,
        wallMs,
        fps: frames ? (frames * 1000) / wallMs : 0,
        meanMs,
        dropped: source.dropped ?? 0,
        cpuMsPerFrame: frames ? (cpu.user + cpu.system) / 1000 / frames : 0,
      };
    },
    async stop() {
      stopped = true;
      await source.close?.();
    },
    async dispose() {
      stopped = true;
      await source.close?.();
      await detector.dispose();
      await embedder?.dispose();
    },
  };
}

export interface CameraPipelineOptions {
  camera: Pick<CameraSpec, 'source' | 'fps' | 'loop' | 'roi'>;
  models: ModelsSpec;
  tracking?: TrackingSpec;
  mode: SourceMode;
  /** onnxruntime intra-op threads per network. */
  threads?: number;
  env?: Record<string, string | undefined>;
  /** Spec path of the camera, for errors (e.g. spec.cameras[2]). */
  field?: string;
  maxFrames?: number;
  /** history: process every frame (ignore camera.fps); the MOTChallenge convention. */
  allFrames?: boolean;
  trackerOverrides?: Partial<TrackerOptions>;
  /** Use colour histograms when spec.models.reid is absent (true), or track on motion only (false). */
  histogramFallback?: boolean;
}

/** Builds a camera's pipeline from the job spec. Models are loaded before the source is opened. */
export async function createCameraPipeline(o: CameraPipelineOptions): Promise<Pipeline & { source: VideoSource }> {
  const env = o.env ?? process.env;
  const detector = await createDetector(o.models.detector, { env, threads: o.threads });
  let embedder: Embedder | undefined;
  try {
    const useReid = o.models.reid !== undefined || o.histogramFallback !== false;
    embedder = useReid ? await createEmbedder(o.models.reid, { env, threads: o.threads }) : undefined;
    const source = await openVideoSource({
      source: o.camera.source,
      mode: o.mode,
      fps: o.mode === 'history' && o.allFrames ? undefined : o.camera.fps,
      loop: o.camera.loop,
      roi: o.camera.roi,
      maxFrames: o.maxFrames,
      env,
      field: o.field,
    });
    // The appearance gates follow the embedder's distance scale.
    const gates = embedder ? { appearanceGate: embedder.gateDistance, reacquireGate: embedder.gateDistance / 2 } : {};
    const overrides = { ...gates, ...o.trackerOverrides };
    const trackerOpts = { ...trackerOptionsFromSpec(o.tracking), ...overrides };
    // Single-object mode: a track is the target when it is as close as a lost track must be to be re-found.
    const tracker = createTracker(o.tracking, overrides, embedder ? embedder.gateDistance / 2 : undefined);
    const pipeline = createPipeline({
      source,
      detector,
      embedder,
      tracker,
      embedMinScore: trackerOpts.highThreshold,
      // A ReID network is the dearest stage: embed only where motion is ambiguous (PETS09-S2L1: 42 % of the
      // boxes, MOTA 80.5 -> 81.1). Histograms cost ~0.2 ms a box and lose IDF1 when sparse: embed them all.
      lazyAppearance: !(embedder instanceof HistogramEmbedder),
    });
    return Object.assign(pipeline, { source });
  } catch (e) {
    await detector.dispose();
    await embedder?.dispose();
    throw e;
  }
}
