// The production CameraRunner: the vision pipeline (edge-agent/src/pipeline) on one camera, reporting its
// source state, frame rate and tracks, and batching per-frame observations for the transport (live mode:
// each frame goes out at once while the link keeps up, so overlays lag by one round trip, not a batch).
// With privacy.preview 'live' it also sends a downscaled JPEG at previewFps; 'snapshot': one on request.
// With 'thumbnails' or 'live' it sends small crops of confirmed tracks (ThumbnailPicker decides which).
import { previewAllows, type CameraReport, type ObservationBatch, type TrackObservation } from '@mei/contracts';
import { createCameraPipeline, type CameraPipelineOptions, type FrameResult, type Pipeline } from '../pipeline/pipeline.ts';
import { encodeCrop, encodePreview } from '@mei/vision/image';
import { MAX_THUMBNAILS_PER_FRAME, ThumbnailPicker } from './thumbnail-picker.ts';
import { EmbeddingCadence } from './embedding-cadence.ts';
import { budgetedDetector, budgetedEmbedder, InferenceBudget } from './inference-budget.ts';
import { SharedEmbedders } from './shared-embedder.ts';
import { observeFrame, registerCamera } from './metrics.ts';
import type { SourceState } from '../sources/index.ts';
import { confineCamera, DEFAULT_ACCESS, nodeRootsFromEnv } from '@mei/contracts/media-policy';
import { cameraField, type CameraRunner, type CameraRunnerContext, type CameraRunnerFactory } from './camera-runner.ts';

const STATE: Record<SourceState, CameraReport['state']> = {
  connecting: 'Connecting',
  streaming: 'Streaming',
  retrying: 'Retrying',
  completed: 'Completed',
  failed: 'Failed',
};
/** Observation batches go out at least this often, or when this many frames are waiting. */
const BATCH_MS = 250;
const BATCH_FRAMES = 25;
const FPS_WINDOW_MS = 5_000;

/** Pipeline settings that are not in the task (tests and benchmarks bound a recording with maxFrames). */
export type PipelineRunnerOptions = Pick<CameraPipelineOptions, 'maxFrames' | 'readRate'> & {
  /**
   * Each frame in its own batch, as a live camera sends while its link keeps up, whatever the mode and the
   * link: bench:bandwidth processes a recording at whatever speed the machine allows but measures live traffic.
   */
  sendLikeLive?: boolean;
  /** The embedding rule (default: the agent's; a number: a fixed cadence, as before look changes counted). */
  embeddingCadence?: ConstructorParameters<typeof EmbeddingCadence>[0];
  /** The node's inference budget shared with the agent's other cameras (absent: none). */
  budget?: InferenceBudget;
  /** The node's shared ReID networks (spec.workers[].shareReid; absent: one network per camera). */
  sharedReid?: SharedEmbedders;
};

export function pipelineRunnerFactory(env: Record<string, string | undefined> = process.env, options: PipelineRunnerOptions = {}): CameraRunnerFactory {
  // One budget for all cameras this agent runs (spec.workers[].inferenceSlots; a new size replaces it).
  let budget: InferenceBudget | undefined;
  // Batched runs of the shared ReID network take a slot of whatever budget is current.
  const shared = options.sharedReid ?? new SharedEmbedders(() => budget);
  return (ctx) => {
    const slots = ctx.task.inferenceSlots;
    if (slots && budget?.slots !== slots) budget = new InferenceBudget(slots);
    return new PipelineCameraRunner(ctx, env, { ...options, budget: slots ? budget : undefined, sharedReid: ctx.task.shareReid ? shared : undefined });
  };
}

// A shared ReID network takes its budget slot per batched run (shared-embedder.ts), not per camera call.
const withBudget =
  (budget: InferenceBudget, camera: string, sharedReid: boolean): CameraPipelineOptions['wrapModels'] =>
  ({ detector, embedder }) => ({ detector: budgetedDetector(detector, budget, camera), embedder: embedder && !sharedReid ? budgetedEmbedder(embedder, budget, camera) : embedder });

export class PipelineCameraRunner implements CameraRunner {
  readonly camera: string;
  private state: CameraReport['state'] = 'Pending';
  private message?: string;
  private framesProcessed = 0;
  private totalFrames?: number;
  private activeTracks = 0;
  private lastFrameTime?: string;
  private readonly frameTimes: number[] = [];
  private firstFrameAt?: number;
  /** spec.workers[].floorFps capped at the camera's own rate (0: none). */
  readonly floorFps: number;
  private pending: ObservationBatch['frames'] = [];
  private pendingEmbeddings: NonNullable<ObservationBatch['embeddings']> = [];
  private readonly embeddingCadence: EmbeddingCadence;
  private lastFlush = Date.now();
  private lastPreviewAt = 0;
  private snapshotWanted = false;
  private readonly thumbnails = new ThumbnailPicker();
  private pipeline?: Pipeline;
  private running?: Promise<void>;
  private stopped = false;
  private unregisterMetrics?: () => void;

  constructor(
    private readonly ctx: CameraRunnerContext,
    private readonly env: Record<string, string | undefined>,
    private readonly options: PipelineRunnerOptions = {},
  ) {
    this.camera = ctx.camera.name;
    this.embeddingCadence = new EmbeddingCadence(options.embeddingCadence);
    this.floorFps = Math.min(ctx.task.floorFps, ctx.camera.fps);
  }

  async start(): Promise<void> {
    const { task, camera } = this.ctx;
    this.setState('Connecting');
    let pipeline: Awaited<ReturnType<typeof createCameraPipeline>>;
    try {
      // Nothing outside the job's media policy is opened: paths come back real and inside their root.
      const safe = await confineCamera(camera, task.models, task.media ?? DEFAULT_ACCESS, nodeRootsFromEnv(this.env), cameraField(camera.name));
      pipeline = await createCameraPipeline({
        camera: safe.camera,
        models: safe.models,
        tracking: task.tracking,
        mode: task.mode,
        threads: task.threads,
        env: this.env,
        field: cameraField(camera.name),
        maxFrames: this.options.maxFrames,
        readRate: this.options.readRate,
        wrapModels: this.options.budget ? withBudget(this.options.budget, camera.name, this.options.sharedReid !== undefined && task.models.reid?.kind === 'onnx') : undefined,
        sharedEmbedder: this.options.sharedReid && ((spec, threads, create) => this.options.sharedReid!.acquire(spec, threads, create)),
      });
    } catch (err) {
      // Bad source or model: the message names the spec field; the agent keeps running the other cameras.
      this.setState('Failed', (err as Error).message);
      return;
    }
    if (this.stopped) return void (await pipeline.dispose());
    this.pipeline = pipeline;
    this.options.budget?.setFloor(this.camera, { floorFps: this.floorFps, fps: () => this.fps() });
    this.unregisterMetrics = registerCamera(this.camera, { dropped: () => pipeline.source.dropped ?? 0, threads: () => pipeline.threads });
    this.totalFrames = pipeline.source.info.totalFrames;
    pipeline.source.on('state', (ev: { state: SourceState; reason?: string }) => {
      // The source completes when it has read its last frame, ahead of the frames still queued for the
      // detector: the camera is Completed when the pipeline has processed them (below). Reported early, a
      // history task would be ended (and its last frames dropped) while they are being processed.
      if (ev.state !== 'completed') this.setState(STATE[ev.state], ev.reason);
    });
    this.running = pipeline
      .run((r) => this.onFrame(r))
      .then(
        () => {
          if (!this.stopped && this.state !== 'Failed') this.setState('Completed');
        },
        (err: Error) => this.setState('Failed', err.message),
      )
      .finally(async () => {
        this.options.budget?.setFloor(this.camera, undefined);
        this.unregisterMetrics?.();
        this.flush();
        await pipeline.dispose();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.pipeline?.stop();
    await this.running;
  }

  /** Frames per second over the last FPS_WINDOW_MS, counted to now (a stalled camera falls to 0). */
  fps(now = Date.now()): number {
    const recent = this.frameTimes.filter((t) => now - t <= FPS_WINDOW_MS);
    if (!recent.length) return 0;
    // Over the whole window once the camera has run that long, else since its first frame (at least 1 s, so
    // that the first frames do not read as a burst).
    const span = Math.min(FPS_WINDOW_MS, Math.max(1000, now - (this.firstFrameAt ?? now))) / 1000;
    return Math.round((recent.length / span) * 100) / 100;
  }

  /** Below the floor after a full window of frames, while streaming (not starting, retrying or done). */
  belowFloor(now = Date.now()): boolean {
    const settled = this.firstFrameAt !== undefined && now - this.firstFrameAt >= FPS_WINDOW_MS;
    return this.floorFps > 0 && settled && this.state === 'Streaming' && this.fps(now) < this.floorFps;
  }

  report(): CameraReport {
    const now = Date.now();
    return {
      name: this.camera,
      state: this.state,
      fps: this.fps(now),
      floorFps: this.floorFps,
      belowFloor: this.belowFloor(now),
      activeTracks: this.activeTracks,
      framesProcessed: this.framesProcessed,
      totalFrames: this.totalFrames,
      message: this.message?.slice(0, 1024),
      lastFrameTime: this.lastFrameTime,
    };
  }

  requestSnapshot(): void {
    this.snapshotWanted = true;
  }

  private setState(state: CameraReport['state'], message?: string): void {
    if (state === this.state && message === this.message) return;
    this.state = state;
    this.message = message;
    this.ctx.onChange();
  }

  private onFrame(r: FrameResult): void {
    const now = Date.now();
    observeFrame(this.camera, r.timings);
    this.framesProcessed++;
    this.lastFrameTime = new Date(now).toISOString();
    this.frameTimes.push(now);
    this.firstFrameAt ??= now;
    while (this.frameTimes.length && now - this.frameTimes[0] > FPS_WINDOW_MS) this.frameTimes.shift();
    this.activeTracks = r.tracks.filter((t) => t.state === 'confirmed').length;
    if (this.state !== 'Streaming' && this.state !== 'Retrying') this.setState('Streaming');

    const tracks: TrackObservation[] = r.tracks
      .filter((t) => t.state !== 'removed')
      .slice(0, 500)
      .map((t) => ({ id: t.id, x: t.x, y: t.y, w: Math.max(0, t.w), h: Math.max(0, t.h), score: Math.min(1, Math.max(0, t.score)), state: t.state }));
    this.pending.push({ frameIndex: r.frameIndex, timestampMs: Math.max(0, r.timestampMs), emittedAt: now, width: r.width, height: r.height, tracks });
    for (const t of r.tracks) {
      if (t.state !== 'confirmed' || !t.embedding || t.embedding.length < 8) continue;
      if (!this.embeddingCadence.due(t.id, r.timestampMs, t.embedding)) continue;
      this.pendingEmbeddings.push({ id: t.id, vector: Array.from(t.embedding) });
    }
    // Live: send now unless earlier batches still wait for their ack (then they go together, bounded).
    const live = this.ctx.task.mode !== 'history' && this.ctx.observationBacklog() === 0;
    if (live || this.options.sendLikeLive || this.pending.length >= BATCH_FRAMES || now - this.lastFlush >= BATCH_MS) this.flush();
    this.maybePreview(r, now);
    this.maybeThumbnails(r);
  }

  /** privacy.preview 'thumbnails' / 'live': crops of confirmed tracks, as many as the transport takes now. */
  private maybeThumbnails(r: FrameResult): void {
    if (!previewAllows({ privacy: this.ctx.privacy() }, 'crops')) return;
    // Picked even when nothing can go out, so removed tracks are forgotten; encoding waits for a free slot.
    const picks = this.thumbnails.pick(r.tracks, r.width, r.height, r.timestampMs);
    const slots = picks.length ? Math.min(MAX_THUMBNAILS_PER_FRAME, this.ctx.thumbnailSlots()) : 0;
    // A frame decoded at reduced size (decodeAtInputSize): the crop region is in camera pixels.
    const [sx, sy] = [r.frame.width / r.width, r.frame.height / r.height];
    for (const p of picks.slice(0, slots)) {
      try {
        const g = p.region;
        const region = sx === 1 && sy === 1 ? g : { x: Math.floor(g.x * sx), y: Math.floor(g.y * sy), w: Math.max(1, Math.floor(g.w * sx)), h: Math.max(1, Math.floor(g.h * sy)) };
        const img = encodeCrop(r.frame, region);
        this.ctx.emitThumbnail({ camera: this.camera, localId: p.id, frameIndex: r.frameIndex, timestampMs: Math.max(0, r.timestampMs), ...img });
        this.thumbnails.sentFor(p.id, p.detail, r.timestampMs);
      } catch (err) {
        this.ctx.log(`thumbnail of track ${p.id} failed: ${(err as Error).message}`);
      }
    }
  }

  private maybePreview(r: FrameResult, now: number): void {
    const task = { privacy: this.ctx.privacy() };
    const due = previewAllows(task, 'stream') && now - this.lastPreviewAt >= 1000 / task.privacy.previewFps;
    const snapshot = this.snapshotWanted && previewAllows(task, 'snapshot');
    if (!due && !snapshot) return;
    this.snapshotWanted = false;
    this.lastPreviewAt = now;
    try {
      const img = encodePreview(r.frame);
      this.ctx.emitPreview({ camera: this.camera, frameIndex: r.frameIndex, timestampMs: Math.max(0, r.timestampMs), emittedAt: Date.now(), ...img });
    } catch (err) {
      this.ctx.log(`preview failed: ${(err as Error).message}`);
    }
  }

  private flush(): void {
    this.lastFlush = Date.now();
    if (!this.pending.length) return;
    const frames = this.pending.splice(0, this.pending.length);
    const embeddings = this.pendingEmbeddings.splice(0, 500);
    this.ctx.emitObservations({ camera: this.camera, frames, ...(embeddings.length ? { embeddings } : {}) });
  }
}
