// One camera's edge pipeline: source -> detector -> ReID embedder -> tracker.
// Decoding runs in the ffmpeg child process. With a detector in a worker thread (workerDetector.ts) the
// detection of frame t+1 runs while frame t is embedded and tracked; the tracker still sees the frames in
// order with the same inputs, so the output is the same as running the stages one after the other.
import { withDefaults } from '@mei/contracts/defaults';
import type { CameraSpec, DetectorSpec, ModelsSpec, TrackingSpec } from '@mei/contracts/job';
import { findModel } from '@mei/vision/models/registry';
import { createDetector } from '@mei/vision/detectors';
import { createEmbedder, HistogramEmbedder } from '@mei/vision/reid';
import { openVideoSource, type SourceMode, type VideoSource } from '../sources/index.ts';
import { createTracker, type Tracker } from '../tracker/index.ts';
import { trackerOptionsFromSpec, type TrackerOptions } from '../tracker/options.ts';
import type { DetectPass, Detection, Detector, Embedder, Frame, TrackOutput } from '@mei/vision/types';
import { fitDetectorInput, knownFrameSize, type FrameSize } from './fitInput.ts';
import { iou } from '@mei/vision/geometry';
import { createWorkerDetector, type TimedDetections } from './workerDetector.ts';

export interface StageTimings {
  /** Waiting for the decoded frame (0 when the decoder is ahead). */
  sourceMs: number;
  /** The detector's time on this frame (in its worker thread when detection runs ahead). */
  detectMs: number;
  /**
   * Main-thread time this frame spent on detection: waiting for its detections and handing the next frame
   * to the worker. Equals detectMs when the stages run in turn; less when detection ran ahead.
   */
  detectWaitMs: number;
  embedMs: number;
  trackMs: number;
  /** Main-loop time of this frame: source + detectWait + embed + track (frame rate ~ 1000 / mean totalMs). */
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
  /** Whether detection ran ahead of embedding and tracking (PipelineParts.detectAhead). */
  detectAhead: boolean;
  /** Frames the detector ran on (fewer than frames with a detection cadence, PipelineParts.detectEvery). */
  detectedFrames: number;
  /** Of those, the ones detected at the reduced input size (PipelineParts.fullEvery). */
  reducedFrames: number;
  /** Boxes the ReID network embedded (lazyAppearance asks only for the ambiguous ones). */
  embeddedBoxes: number;
  /** The cadence in effect at the end (PipelineParts.cadenceOnLoad moves it between 1 and detectEvery). */
  detectEvery: number;
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
  /**
   * Start detecting frame t+1 before embedding and tracking frame t. Default: when the detector runs off the
   * main thread (Detector.offThread), where it gains time; in one thread it would only add a frame of latency.
   */
  detectAhead?: boolean;
  /**
   * Detection cadence: run the detector (and ReID) at most every this many frames and carry the tracks on
   * their Kalman prediction in between (Tracker.coast; default 1 = every frame). Adaptive: the next frame is
   * detected anyway while the scene is busy (a tentative track, or two live tracks whose boxes overlap).
   */
  detectEvery?: number;
  /**
   * Stretch the cadence only under load: detect every frame while the camera keeps up, and grow the interval
   * by one (up to detectEvery) each time its live source drops a frame; after CALM_FRAMES without a drop it
   * shrinks by one. A node with more cameras than CPU then coasts more instead of dropping frames, each camera
   * on its own drops, so all of them degrade alike.
   */
  cadenceOnLoad?: boolean;
  /**
   * Detection cadence in time (replaces detectEvery when > 0): the next frame is detected once this many ms
   * have passed since the last detected one. A skipped frame costs accuracy by how far people move between
   * frames, so a time interval keeps the loss alike across frame rates where a frame count does not. The
   * busy-scene and coastMaxShift triggers still apply. With cadenceOnLoad it grows from 0 to this value in
   * LOAD_STEPS steps as the source drops frames.
   */
  detectIntervalMs?: number;
  /**
   * Uncertainty trigger of either cadence: detect the next frame anyway when the fastest confirmed track will
   * have coasted more than this fraction of its box width since its last detection (Kalman velocity). Scale-
   * and rate-free: fast or near people get detected often, slow or far ones coast. Absent: no such trigger.
   */
  coastMaxShift?: number;
  /**
   * Two-scale detection (spec models.detector.reducedInputScale): of every fullEvery detected frames the
   * first runs the detector's full pass and the others its reduced one. Absent or 1: every detection is full.
   */
  fullEvery?: number;
}

/** Steps of a load-stretched time cadence (cadenceOnLoad with detectIntervalMs): 0, 1/4 … 4/4 of it. */
export const LOAD_STEPS = 4;

/** Frames without a dropped one before a load-stretched cadence steps back (2 s at 10 fps). */
export const CALM_FRAMES = 20;

/** Whether the last tracks call for a detection on the next frame: a new person, or people close together. */
export function busyScene(tracks: readonly TrackOutput[]): boolean {
  const live = tracks.filter((t) => t.state !== 'lost');
  if (live.some((t) => t.state === 'tentative')) return true;
  return live.some((a, i) => live.some((b, j) => j > i && iou(a, b) > 0));
}

export interface Pipeline {
  /** Processes frames until the source ends or stop() is called; calls onResult for each frame. */
  run(onResult?: (r: FrameResult) => void | Promise<void>): Promise<PipelineSummary>;
  /** Stops after the current frame. */
  stop(): Promise<void>;
  /** Releases the source and the models. */
  dispose(): Promise<void>;
}

type PassDetections = TimedDetections & { pass: DetectPass | undefined };
const notDetected = (): PassDetections => ({ detections: [], ms: 0, pass: undefined });

/** Detections of a frame with the detector's own time for it. */
function detectTimed(detector: Detector, frame: Frame, pass: DetectPass): Promise<TimedDetections> {
  const d = detector as Detector & { detectTimed?(f: Frame, p: DetectPass): Promise<TimedDetections> };
  if (d.detectTimed) return d.detectTimed(frame, pass);
  const t0 = performance.now();
  return detector.detect(frame, pass).then((detections) => ({ detections, ms: performance.now() - t0 }));
}

const ZERO_TIMINGS: StageTimings = { sourceMs: 0, detectMs: 0, detectWaitMs: 0, embedMs: 0, trackMs: 0, totalMs: 0 };

export function createPipeline(parts: PipelineParts): Pipeline {
  let stopped = false;
  const { source, detector, embedder, tracker } = parts;
  const ahead = parts.detectAhead ?? detector.offThread === true;
  const detectorDefaults = withDefaults('models.detector');
  const intervalMs = Math.max(0, parts.detectIntervalMs ?? detectorDefaults.detectIntervalMs);
  const every = intervalMs > 0 ? 1 : Math.max(1, Math.floor(parts.detectEvery ?? detectorDefaults.detectEvery));
  const canCoast = (every > 1 || intervalMs > 0) && tracker.coast !== undefined;
  const maxShift = parts.coastMaxShift ?? Infinity;
  // Load levels of cadenceOnLoad: frame cadence 1 … every (level + 1 frames), time cadence 0 … LOAD_STEPS.
  const maxLevel = intervalMs > 0 ? LOAD_STEPS : every - 1;

  /** Embeddings aligned with `detections` (undefined where not computed). */
  async function embedFor(frame: Frame, detections: Detection[]): Promise<Array<Float32Array | undefined> | undefined> {
    if (!embedder) return undefined;
    // Asked after the tracker has seen the previous frame, in both modes: the same boxes get embedded.
    const needed = parts.lazyAppearance ? tracker.appearanceNeeded?.(detections, frame.timestampMs) : undefined;
    const idx = detections.flatMap((d, i) => (d.score >= parts.embedMinScore && (needed?.[i] ?? true) ? [i] : []));
    const embs = await embedder.embed(frame, idx.map((i) => detections[i]));
    const embeddings: Array<Float32Array | undefined> = new Array(detections.length);
    idx.forEach((di, k) => (embeddings[di] = embs[k]));
    return embeddings;
  }

  return {
    async run(onResult) {
      const sum: StageTimings = { ...ZERO_TIMINGS };
      let frames = 0;
      let detectedFrames = 0;
      let embeddedBoxes = 0;
      let reducedFrames = 0;
      // Detections started so far, in frame order in both modes: the k-th is full when k % fullEvery is 0.
      let started = 0;
      const fullEvery = Math.max(1, parts.fullEvery ?? 1);
      // Coasted frames since the last detected one, and whether the last tracks asked for a detection.
      let gap = 0;
      let busy = false;
      let lastDetectedMs = -Infinity;
      // Decided before the current frame is tracked, in both modes, so that ahead and in-turn agree.
      let level = parts.cadenceOnLoad ? 0 : maxLevel;
      let lastDropped = source.dropped ?? 0;
      let calm = 0;
      const followLoad = () => {
        const dropped = source.dropped ?? 0;
        if (dropped > lastDropped) [level, calm] = [Math.min(maxLevel, level + 1), 0];
        else if (++calm >= CALM_FRAMES) [level, calm] = [Math.max(0, level - 1), 0];
        lastDropped = dropped;
      };
      /** Whether the frame after the current one is detected, as a function of its timestamp. */
      const detectNext = (curDetected: boolean, curMs: number): ((nextMs: number) => boolean) => {
        if (!canCoast || busy) return () => true;
        const since = curDetected ? 0 : gap + 1; // coasted frames since the last detection, after this one
        if ((tracker.motionPerFrame?.() ?? 0) * (since + 1) > maxShift) return () => true;
        if (intervalMs === 0) return () => since + 1 >= level + 1;
        const last = curDetected ? curMs : lastDetectedMs;
        const wait = (intervalMs * level) / LOAD_STEPS;
        return (nextMs) => nextMs - last >= wait - 1; // 1 ms: timestamps of a 25 fps stream are 40 ± rounding
      };
      const start = performance.now();
      const cpu0 = process.cpuUsage();
      const it = source[Symbol.asyncIterator]();
      const nextFrame = async (): Promise<{ frame: Frame; sourceMs: number } | undefined> => {
        const t0 = performance.now();
        const next = await it.next();
        return next.done ? undefined : { frame: next.value, sourceMs: performance.now() - t0 };
      };
      const startDetect = (frame: Frame): Promise<PassDetections> => {
        const pass: DetectPass = started++ % fullEvery === 0 ? 'full' : 'reduced';
        const p = detectTimed(detector, frame, pass).then((r) => ({ ...r, pass }));
        p.catch(() => undefined); // a detection abandoned by stop() must not become an unhandled rejection
        return p;
      };
      try {
        let cur = stopped ? undefined : await nextFrame();
        let curDet: Promise<PassDetections> | undefined;
        let curDetect = true;
        while (cur) {
          const { frame } = cur;
          const t0 = performance.now();
          const { detections, ms: detectMs, pass } = curDetect ? await (curDet ?? startDetect(frame)) : notDetected();
          const t1 = performance.now();
          if (parts.cadenceOnLoad && canCoast) followLoad();
          const decide = detectNext(curDetect, frame.timestampMs);
          let next: { frame: Frame; sourceMs: number } | undefined;
          let nextDet: Promise<PassDetections> | undefined;
          if (ahead && !stopped) {
            next = await nextFrame();
            if (next && decide(next.frame.timestampMs)) nextDet = startDetect(next.frame);
          }
          const t2 = performance.now();
          const embeddings = curDetect ? await embedFor(frame, detections) : undefined;
          embeddedBoxes += embeddings?.reduce((n, e) => n + (e ? 1 : 0), 0) ?? 0;
          const t3 = performance.now();
          // A reduced pass is tracked like a full one: a far person it misses is lost for that frame and
          // re-found by the next full pass (coasting them instead kept false positives alive: docs/benchmarks.md).
          const tracks = curDetect ? tracker.update(detections, embeddings, frame.timestampMs, frame) : tracker.coast!();
          if (pass === 'reduced') reducedFrames++;
          const t4 = performance.now();
          if (curDetect) [detectedFrames, lastDetectedMs] = [detectedFrames + 1, frame.timestampMs];
          gap = curDetect ? 0 : gap + 1;
          busy = canCoast && busyScene(tracks);
          const detectWaitMs = t1 - t0 + (t2 - t1 - (next?.sourceMs ?? 0));
          const timings: StageTimings = {
            sourceMs: cur.sourceMs,
            detectMs,
            detectWaitMs,
            embedMs: t3 - t2,
            trackMs: t4 - t3,
            totalMs: cur.sourceMs + detectWaitMs + (t4 - t2),
          };
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
          if (!ahead) next = stopped ? undefined : await nextFrame();
          cur = stopped ? undefined : next;
          curDet = nextDet;
          curDetect = !cur || decide(cur.frame.timestampMs);
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
        detectAhead: ahead,
        detectedFrames,
        reducedFrames,
        embeddedBoxes,
        detectEvery: canCoast && intervalMs === 0 ? level + 1 : 1,
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
  /**
   * onnxruntime intra-op threads for this camera (spec.workers[].threads, default 2). When the detector runs
   * in its worker next to an ONNX ReID network the two networks run at once and share them: detector
   * ceil(n/2), ReID floor(n/2), at least 1 each (PETS09-S2L1, 2 cores: 1+1 uses ~12 % less CPU than 2+2
   * at the same fps). Otherwise each network gets n.
   */
  threads?: number;
  /** Intra-op threads of the ReID network; when set, `threads` is the detector's alone (no sharing). */
  embedderThreads?: number;
  /**
   * Run the detector in a worker thread so that it overlaps with ReID and tracking (default: when there is
   * an embedder). The tracks are the same either way; false keeps everything on the calling thread.
   */
  detectorWorker?: boolean;
  /**
   * Fit a registry detector's input to the frame's aspect ratio instead of padding it to the model's square
   * (fitInput.ts; default true). Ignored when the spec sets inputWidth/inputHeight or a path.
   */
  fitDetectorInput?: boolean;
  env?: Record<string, string | undefined>;
  /** Spec path of the camera, for errors (e.g. spec.cameras[2]). */
  field?: string;
  maxFrames?: number;
  /** history: process every frame (ignore camera.fps); the MOTChallenge convention. */
  allFrames?: boolean;
  trackerOverrides?: Partial<TrackerOptions>;
  /** Use colour histograms when spec.models.reid is absent (true), or track on motion only (false). */
  histogramFallback?: boolean;
  /** PipelineParts.detectEvery (default: spec.models.detector.detectEvery, else 1 = every frame). */
  detectEvery?: number;
  /** PipelineParts.detectIntervalMs (default: spec.models.detector.detectIntervalMs, else 0 = off). */
  detectIntervalMs?: number;
  /** VideoSourceOptions.readRate: pacing of a recorded file played live (benchmarks). */
  readRate?: number;
  /**
   * Supplies the ONNX ReID network instead of loading one per camera (spec.workers[].shareReid,
   * agent/shared-embedder.ts): called with the loader and the network's threads.
   */
  sharedEmbedder?: (spec: NonNullable<ModelsSpec['reid']>, threads: number, create: () => Promise<Embedder>) => Promise<Embedder>;
  /** Wraps the loaded networks (the node's inference budget, agent/inference-budget.ts). */
  wrapModels?: (m: { detector: Detector; embedder?: Embedder }) => { detector: Detector; embedder?: Embedder };
}

/**
 * spec.models.detector.decodeAtInputSize: the size to decode a `frame`-sized camera at so that the detector
 * sees it at the scale of its (fitted) input, or undefined when that would not shrink the frame.
 */
export function reducedDecodeSize(frame: FrameSize | undefined, detector: Pick<DetectorSpec, 'inputWidth' | 'inputHeight'>): FrameSize | undefined {
  if (!frame || !detector.inputWidth || !detector.inputHeight) return undefined;
  const s = Math.min(detector.inputWidth / frame.width, detector.inputHeight / frame.height);
  if (!(s < 0.95)) return undefined; // within 5 %: not worth a scaling pass
  return { width: Math.max(16, Math.round(frame.width * s)), height: Math.max(16, Math.round(frame.height * s)) };
}

/** A result of a frame decoded at reduced size, in the camera's own pixels (what observations carry). */
function toCameraPixels(r: FrameResult, sx: number, sy: number, width: number, height: number): FrameResult {
  const box = <B extends { x: number; y: number; w: number; h: number }>(b: B): B => ({ ...b, x: b.x * sx, y: b.y * sy, w: b.w * sx, h: b.h * sy });
  return { ...r, width, height, detections: r.detections.map(box), tracks: r.tracks.map(box) };
}

/** Intra-op threads of each network (see CameraPipelineOptions.threads). */
export function pipelineThreads(o: Pick<CameraPipelineOptions, 'threads' | 'embedderThreads' | 'detectorWorker' | 'models'>): { detector: number; embedder: number } {
  const n = o.threads ?? withDefaults('workers[]').threads;
  if (o.embedderThreads !== undefined) return { detector: n, embedder: o.embedderThreads };
  const shared = o.detectorWorker !== false && o.models.reid?.kind === 'onnx';
  return shared ? { detector: Math.max(1, Math.ceil(n / 2)), embedder: Math.max(1, Math.floor(n / 2)) } : { detector: n, embedder: n };
}

/** Builds a camera's pipeline from the job spec. Models are loaded before the source is opened. */
export async function createCameraPipeline(
  o: CameraPipelineOptions,
): Promise<Pipeline & { source: VideoSource; detector: Detector; threads: { detector: number; embedder: number }; decodeSize?: FrameSize }> {
  const env = o.env ?? process.env;
  const wantReduced = o.models.detector.decodeAtInputSize === true;
  const frameSize = o.fitDetectorInput === false && !wantReduced ? undefined : await knownFrameSize(o.camera, env);
  const fitted = o.fitDetectorInput === false ? o.models.detector : fitDetectorInput(o.models.detector, frameSize);
  // Reduced-resolution decode: ffmpeg scales the frame to the detector's scale; results are mapped back.
  const decodeSize = wantReduced ? reducedDecodeSize(frameSize, fitted.inputWidth ? fitted : { inputWidth: findModel(fitted.name ?? '')?.input.width, inputHeight: findModel(fitted.name ?? '')?.input.height }) : undefined;
  const detectorSpec = decodeSize && o.fitDetectorInput !== false ? fitDetectorInput(o.models.detector, decodeSize) : fitted;
  const useReid = o.models.reid !== undefined || o.histogramFallback !== false;
  // Motion-only tracking has nothing to overlap detection with: the worker would only copy frames.
  const inWorker = o.detectorWorker ?? useReid;
  const threads = pipelineThreads({ ...o, detectorWorker: inWorker });
  const detectorEnv = { env, threads: threads.detector };
  const detector = inWorker ? await createWorkerDetector(detectorSpec, detectorEnv) : await createDetector(detectorSpec, detectorEnv);
  let embedder: Embedder | undefined;
  try {
    const load = () => createEmbedder(o.models.reid, { env, threads: threads.embedder });
    const reid = o.models.reid;
    embedder = !useReid ? undefined : o.sharedEmbedder && reid?.kind === 'onnx' ? await o.sharedEmbedder(reid, threads.embedder, load) : await load();
    const source = await openVideoSource({
      source: o.camera.source,
      mode: o.mode,
      fps: o.mode === 'history' && o.allFrames ? undefined : o.camera.fps,
      loop: o.camera.loop,
      roi: o.camera.roi,
      scaleTo: decodeSize,
      maxFrames: o.maxFrames,
      readRate: o.readRate,
      env,
      field: o.field,
    });
    // The appearance gates follow the embedder's distance scale.
    const gates = embedder ? { appearanceGate: embedder.gateDistance, reacquireGate: embedder.gateDistance / 2 } : {};
    const overrides = { ...gates, ...o.trackerOverrides };
    const trackerOpts = { ...trackerOptionsFromSpec(o.tracking), ...overrides };
    // Single-object mode: a track is the target when it is as close as a lost track must be to be re-found.
    const tracker = createTracker(o.tracking, overrides, embedder ? embedder.gateDistance / 2 : undefined);
    const run = o.wrapModels ? o.wrapModels({ detector, embedder }) : { detector, embedder };
    const detectorDefaults = withDefaults('models.detector', o.models.detector);
    const pipeline = createPipeline({
      source,
      detector: run.detector,
      embedder: run.embedder,
      tracker,
      embedMinScore: trackerOpts.highThreshold,
      // A ReID network is the dearest stage: embed only where motion is ambiguous (PETS09-S2L1: 42 % of the
      // boxes, MOTA 80.5 -> 81.1). Histograms cost ~0.2 ms a box and lose IDF1 when sparse: embed them all.
      lazyAppearance: !(embedder instanceof HistogramEmbedder),
      detectEvery: o.detectEvery ?? o.models.detector.detectEvery,
      cadenceOnLoad: o.models.detector.cadenceOnLoad,
      detectIntervalMs: o.detectIntervalMs ?? o.models.detector.detectIntervalMs,
      // The CRD's default (chosen on TUD, docs/benchmarks.md) unless the spec sets one.
      coastMaxShift: detectorDefaults.coastMaxShift,
      fullEvery: detectorDefaults.reducedInputScale > 0 ? detectorDefaults.fullEvery : 1,
    });
    if (decodeSize && frameSize) {
      const inner = pipeline.run.bind(pipeline);
      const [sx, sy] = [frameSize.width / decodeSize.width, frameSize.height / decodeSize.height];
      pipeline.run = (onResult) => inner(onResult && ((r) => onResult(toCameraPixels(r, sx, sy, frameSize.width, frameSize.height))));
    }
    return Object.assign(pipeline, { source, detector, threads, decodeSize });
  } catch (e) {
    await detector.dispose();
    await embedder?.dispose();
    throw e;
  }
}
