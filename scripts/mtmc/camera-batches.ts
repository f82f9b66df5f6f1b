// The edge side of the multi-camera benchmarks: one history-mode pipeline per virtual camera, turned into
// the ObservationBatch messages an agent sends (same embedding cadence rule as the agent, on video time).
// Each batch goes through the wire as production sends it (protocol 2: integer-pixel boxes, int8
// embeddings) and is read back by the server's parser, so the benches score what the server receives.
import { EMBEDDING_LEVELS, encodeObservations, parseObservationPayload, type CameraSpec, type ModelsSpec, type ObservationBatch, type TrackObservation } from '@mei/contracts';
import { createCameraPipeline } from '../../edge-agent/src/pipeline/pipeline.ts';
import { EMBEDDING_EVERY_MS, EMBEDDING_REFRESH_MS, EMBEDDING_SECOND_MS, EmbeddingCadence, LOOK_CHANGE_DISTANCE, type EmbeddingCadenceOptions } from '../../edge-agent/src/agent/embedding-cadence.ts';
import { numberFlag } from '../bench-args.ts';

export interface CameraBatchOptions {
  cameras: CameraSpec[];
  models: ModelsSpec;
  maxFrames: number;
  threads?: number;
  jobKey: string;
  /**
   * The embedding rule (default: the agent's). A number: the old fixed cadence (per confirmed track on its
   * first frame, then every this many ms of video); options: the agent's rule with other settings.
   */
  cadence?: EmbeddingCadenceOptions | number;
  /** Frames per batch. */
  batchFrames: number;
  /** Levels per sign of the int8 embeddings on the wire (--embedding-levels; default the agent's). */
  embeddingLevels?: number;
  /** Every frame a camera's pipeline produced, with every confirmed track's embedding (--record-frames). */
  recordFrame?: (camera: string, frame: CameraFrame) => void;
}

/** What a pipeline reports for one frame, as far as the batches need it (embeddings of confirmed tracks). */
export interface CameraFrame {
  frameIndex: number;
  timestampMs: number;
  width: number;
  height: number;
  tracks: Array<TrackObservation & { embedding?: ArrayLike<number> }>;
}

export interface CameraBatchRun {
  /** Frames per second per camera. */
  fps: Map<string, number>;
  /** Process CPU (every thread, not ffmpeg's decoding) per camera-frame, without the time spent in `deliver`. */
  edgeCpuMsPerFrame: number;
  /** Protocol-2 payload bytes sent, and embeddings among them. */
  wireBytes: number;
  embeddings: number;
}

type Queue = Array<{ bytes: Uint8Array; startMs: number }>;

/**
 * One camera's frames turned into batches as the agent makes them: the embedding rule on video time, then
 * `batchFrames` frames per batch, encoded in protocol 2 (queued with the video time of their first frame).
 */
class CameraBatcher {
  private pending: ObservationBatch['frames'] = [];
  private pendingEmb: NonNullable<ObservationBatch['embeddings']> = [];
  private seq = 0;
  private readonly cadence: EmbeddingCadence;
  readonly totals = { wireBytes: 0, embeddings: 0, frames: 0 };

  constructor(
    private readonly camera: string,
    private readonly o: CameraBatchOptions,
    private readonly queue: Queue,
  ) {
    this.cadence = new EmbeddingCadence(o.cadence ?? {});
  }

  frame(f: CameraFrame): void {
    const tracks: TrackObservation[] = f.tracks
      .filter((t) => t.state !== 'removed')
      .map((t) => ({ id: t.id, x: t.x, y: t.y, w: Math.max(0, t.w), h: Math.max(0, t.h), score: Math.min(1, Math.max(0, t.score)), state: t.state }));
    this.pending.push({ frameIndex: f.frameIndex, timestampMs: Math.max(0, f.timestampMs), emittedAt: Date.now(), width: f.width, height: f.height, tracks });
    for (const t of f.tracks) {
      if (t.state !== 'confirmed' || !t.embedding) continue;
      if (!this.cadence.due(t.id, f.timestampMs, t.embedding)) continue;
      this.pendingEmb.push({ id: t.id, vector: Array.from(t.embedding) });
    }
    if (this.pending.length >= this.o.batchFrames) this.flush();
  }

  flush(): void {
    if (!this.pending.length) return;
    const embeddings = this.pendingEmb;
    const bytes = encodeObservations({ jobKey: this.o.jobKey, camera: this.camera, seq: this.seq++, frames: this.pending, ...(embeddings.length ? { embeddings } : {}) }, this.o.embeddingLevels);
    this.totals.wireBytes += bytes.length;
    this.totals.embeddings += embeddings.length;
    this.totals.frames += this.pending.length;
    this.queue.push({ bytes, startMs: this.pending[0].timestampMs });
    this.pending = [];
    this.pendingEmb = [];
  }
}

/**
 * Delivers the cameras' queued batches merged in video-time order, as synchronised live cameras would, so a
 * run's result does not depend on thread scheduling: a batch goes once no unfinished camera could still queue
 * an earlier one. Returns the ms spent in `deliver`.
 */
function videoTimeMerge(queues: Queue[], finished: boolean[], deliver: (b: ObservationBatch) => void): number {
  let deliverMs = 0;
  for (;;) {
    if (queues.some((q, k) => q.length === 0 && !finished[k])) return deliverMs; // that camera may still be earlier
    let next = -1;
    queues.forEach((q, k) => {
      if (q.length && (next < 0 || q[0].startMs < queues[next][0].startMs)) next = k;
    });
    if (next < 0) return deliverMs;
    const t0 = performance.now();
    const parsed = parseObservationPayload(queues[next].shift()!.bytes, 2);
    if (!parsed.ok) throw new Error(`protocol 2 round trip refused ${parsed.field}: ${parsed.error}`);
    deliver(parsed.batch);
    deliverMs += performance.now() - t0;
  }
}

/**
 * Replays frames recorded with `recordFrame` (camera -> frames in order) through the same batching and
 * embedding rule as a vision run, so embedding rules can be compared without running the models again.
 */
export function replayCameraFrames(o: Omit<CameraBatchOptions, 'models' | 'threads' | 'recordFrame'>, frames: Map<string, CameraFrame[]>, deliver: (b: ObservationBatch) => void): { wireBytes: number; embeddings: number } {
  const queues: Queue[] = o.cameras.map(() => []);
  const batchers = o.cameras.map((c, k) => new CameraBatcher(c.name, o as CameraBatchOptions, queues[k]));
  o.cameras.forEach((c, k) => {
    for (const f of frames.get(c.name) ?? []) if (f.frameIndex < o.maxFrames) batchers[k].frame(f);
    batchers[k].flush();
  });
  videoTimeMerge(queues, o.cameras.map(() => true), deliver);
  return { wireBytes: batchers.reduce((n, b) => n + b.totals.wireBytes, 0), embeddings: batchers.reduce((n, b) => n + b.totals.embeddings, 0) };
}

/** A recorded frame as one JSON line: embeddings as base64 float32 (exact). */
export function frameLine(camera: string, f: CameraFrame): string {
  const tracks = f.tracks.map(({ embedding, ...t }) => (embedding ? { ...t, e: Buffer.from(Float32Array.from(embedding).buffer).toString('base64') } : t));
  return JSON.stringify({ camera, frameIndex: f.frameIndex, timestampMs: f.timestampMs, width: f.width, height: f.height, tracks });
}

/** Reads a --record-frames file (camera -> frames); errors name the line. */
export function readFrameLines(file: string, text: string): Map<string, CameraFrame[]> {
  const out = new Map<string, CameraFrame[]>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: { camera: string; tracks: Array<TrackObservation & { e?: string }> } & CameraFrame;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: ${(err as Error).message}`);
    }
    if (typeof v.camera !== 'string' || !Array.isArray(v.tracks)) throw new Error(`${file}:${i + 1}: not a recorded frame (camera, tracks)`);
    const tracks = v.tracks.map(({ e, ...t }) => (e ? { ...t, embedding: new Float32Array(new Uint8Array(Buffer.from(e, 'base64')).buffer) } : t));
    const list = out.get(v.camera) ?? [];
    list.push({ frameIndex: v.frameIndex, timestampMs: v.timestampMs, width: v.width, height: v.height, tracks });
    out.set(v.camera, list);
  });
  return out;
}

/**
 * Runs the cameras concurrently but delivers their batches merged in video-time order, as synchronised live
 * cameras would, so a run's result does not depend on thread scheduling.
 */
export async function runCamerasInVideoTimeOrder(o: CameraBatchOptions, deliver: (b: ObservationBatch) => void): Promise<CameraBatchRun> {
  const queues: Queue[] = o.cameras.map(() => []);
  const finished = o.cameras.map(() => false);
  const fps = new Map<string, number>();
  let deliverMs = 0;
  const cpu0 = process.cpuUsage();
  const drain = () => (deliverMs += videoTimeMerge(queues, finished, deliver));
  const batchers = o.cameras.map((c, k) => new CameraBatcher(c.name, o, queues[k]));
  await Promise.all(
    o.cameras.map(async (camera, k) => {
      const pipeline = await createCameraPipeline({ camera, models: o.models, mode: 'history', allFrames: true, maxFrames: o.maxFrames, threads: o.threads, field: `split[${k}]` });
      try {
        const summary = await pipeline.run((r) => {
          const f: CameraFrame = { frameIndex: r.frameIndex, timestampMs: r.timestampMs, width: r.width, height: r.height, tracks: r.tracks };
          o.recordFrame?.(camera.name, { ...f, tracks: r.tracks.map((t) => ({ id: t.id, x: t.x, y: t.y, w: t.w, h: t.h, score: t.score, state: t.state, ...(t.state === 'confirmed' && t.embedding ? { embedding: t.embedding } : {}) })) });
          batchers[k].frame(f);
          drain();
        });
        batchers[k].flush();
        fps.set(camera.name, summary.fps);
      } finally {
        finished[k] = true;
        drain();
        await pipeline.dispose();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const edgeCpuMs = (cpu.user + cpu.system) / 1000 - deliverMs;
  const frames = batchers.reduce((n, b) => n + b.totals.frames, 0);
  return { fps, edgeCpuMsPerFrame: frames ? edgeCpuMs / frames : 0, wireBytes: batchers.reduce((n, b) => n + b.totals.wireBytes, 0), embeddings: batchers.reduce((n, b) => n + b.totals.embeddings, 0) };
}

/** The embedding-rule and frame-recording flags bench:mtmc and bench:person-search share. */
export const CADENCE_FLAGS = {
  'embed-every-ms': { type: 'string' },
  'embed-min-ms': { type: 'string' },
  'embed-refresh-ms': { type: 'string' },
  'look-change': { type: 'string' },
  'embed-second-ms': { type: 'string' },
  'record-frames': { type: 'string' },
  'replay-frames': { type: 'string' },
  'embedding-levels': { type: 'string' },
} as const;
export const CADENCE_USAGE = `       [--embed-every-ms MS (a fixed cadence) | --embed-min-ms MS (${EMBEDDING_EVERY_MS}) --embed-refresh-ms MS (${EMBEDDING_REFRESH_MS}) --look-change D (${LOOK_CHANGE_DISTANCE}) --embed-second-ms MS|off (${Number.isFinite(EMBEDDING_SECOND_MS) ? EMBEDDING_SECOND_MS : "off"})]
       [--record-frames <file.jsonl>]   also save every frame's tracks and confirmed embeddings (large)
       [--replay-frames <file.jsonl>]   skip the vision pipelines: batch saved frames under the embedding rule given
       [--embedding-levels N]           int8 levels per sign of embeddings on the wire (${EMBEDDING_LEVELS}, 1..127)`;

/** The embedding rule the flags ask for, and how a result describes it. */
export function cadenceFromFlags(v: Partial<Record<keyof typeof CADENCE_FLAGS, string>>): { cadence: EmbeddingCadenceOptions | number; embeddingLevels: number; describe: Record<string, unknown> } {
  const embeddingLevels = numberFlag(v['embedding-levels'], '--embedding-levels', EMBEDDING_LEVELS, 1, 127, true);
  if (v['embed-every-ms'] !== undefined) {
    const everyMs = numberFlag(v['embed-every-ms'], '--embed-every-ms', 0, 0, 60_000);
    return { cadence: everyMs, embeddingLevels, describe: { rule: 'fixed', everyMs, embeddingLevels } };
  }
  const everyMs = numberFlag(v['embed-min-ms'], '--embed-min-ms', EMBEDDING_EVERY_MS, 0, 60_000);
  const refreshMs = numberFlag(v['embed-refresh-ms'], '--embed-refresh-ms', EMBEDDING_REFRESH_MS, 0, 600_000);
  const lookChange = numberFlag(v['look-change'], '--look-change', LOOK_CHANGE_DISTANCE, 0, 2);
  const secondMs = v['embed-second-ms'] === 'off' ? Infinity : numberFlag(v['embed-second-ms'], '--embed-second-ms', EMBEDDING_SECOND_MS, 0, 600_000);
  return { cadence: { everyMs, refreshMs, lookChange, secondMs }, embeddingLevels, describe: { rule: 'look change', everyMs, refreshMs, lookChange, secondMs: Number.isFinite(secondMs) ? secondMs : 'off', embeddingLevels } };
}
