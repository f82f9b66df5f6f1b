// A detector running in a worker thread. onnxruntime-node runs a session synchronously on the calling
// thread, so in one thread the detector and the ReID network take turns; in a worker the detector of frame
// t+1 runs while the main thread embeds and tracks frame t (see pipeline.ts). The worker builds the same
// detector from the same spec, so its detections are the same numbers.
import { Worker } from 'node:worker_threads';
import type { DetectorSpec } from '@mei/contracts/job';
import { detectorOptions, type DetectorEnv } from '@mei/vision/detectors';
import { ModelError } from '@mei/vision/models/resolve';
import { SourceError } from '../sources/uri.ts';
import type { DetectPass, Detection, Detector, Frame } from '@mei/vision/types';

export interface SerializedError {
  name: string;
  message: string;
  field?: string;
}

export type WorkerRequest = { type: 'detect'; id: number; frame: Frame; pass: DetectPass } | { type: 'dispose' };
export type WorkerReply =
  | { type: 'ready'; name: string }
  | { type: 'failed'; error: SerializedError }
  | { type: 'result'; id: number; detections?: Detection[]; error?: SerializedError; ms: number };

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & { field?: string };
  return { name: err?.name ?? 'Error', message: err?.message ?? String(e), field: err?.field };
}

/** The error as thrown in the worker: ModelError / SourceError keep their class and spec field. */
function reviveError(s: SerializedError): Error {
  let e: Error;
  if (s.name === 'ModelError' && s.field) e = new ModelError(s.field, '');
  else if (s.name === 'SourceError') e = new SourceError('', s.field);
  else {
    e = new Error();
    e.name = s.name;
  }
  e.message = s.message;
  return e;
}

export interface TimedDetections {
  detections: Detection[];
  /** Time the detector spent on this frame inside the worker. */
  ms: number;
}

/** How long dispose() waits for the worker to release its session before terminating it. */
const DISPOSE_TIMEOUT_MS = 5_000;

export class WorkerDetector implements Detector {
  readonly offThread = true;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: TimedDetections): void; reject(e: Error): void }>();
  private exited: Promise<void>;
  private dead: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly name: string,
  ) {
    worker.on('message', (m: WorkerReply) => {
      if (m.type !== 'result') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(reviveError(m.error));
      else p.resolve({ detections: m.detections ?? [], ms: m.ms });
    });
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    const fail = (why: Error) => {
      this.dead ??= why;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`detector worker ${name} failed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`detector worker ${name} exited (code ${code})`)));
  }

  /**
   * Starts a worker with the detector of `spec`. The spec is checked here first (a bad name, path or
   * threshold throws the same ModelError as createDetector); the model itself loads in the worker.
   */
  static async create(spec: DetectorSpec, envIn: DetectorEnv = {}): Promise<WorkerDetector> {
    const env = { ...(envIn.env ?? process.env) };
    detectorOptions(spec, { ...envIn, env });
    const worker = new Worker(new URL('./workerDetectorEntry.mjs', import.meta.url), {
      workerData: { spec, env, threads: envIn.threads, field: envIn.field },
      env,
    });
    const first = await new Promise<WorkerReply | Error>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', resolve);
      worker.once('exit', (code) => resolve(new Error(`detector worker exited (code ${code}) before loading the model`)));
    });
    if (first instanceof Error || first.type !== 'ready') {
      await worker.terminate();
      throw first instanceof Error ? first : first.type === 'failed' ? reviveError(first.error) : new Error('detector worker: unexpected reply');
    }
    return new WorkerDetector(worker, first.name);
  }

  /** Detections of `frame` and the worker's time for them. Calls may overlap; the worker runs them in order. */
  detectTimed(frame: Frame, pass: DetectPass = 'full'): Promise<TimedDetections> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<TimedDetections>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A frame in a SharedArrayBuffer (VideoSource's) is shared with the worker, which only reads it; any
      // other is copied (structured clone): the main thread keeps using it for ReID crops either way.
      const msg: WorkerRequest = { type: 'detect', id, frame: { index: frame.index, timestampMs: frame.timestampMs, width: frame.width, height: frame.height, data: frame.data }, pass };
      this.worker.postMessage(msg);
    });
  }

  async detect(frame: Frame, pass?: DetectPass): Promise<Detection[]> {
    return (await this.detectTimed(frame, pass)).detections;
  }

  async dispose(): Promise<void> {
    if (!this.dead) {
      this.worker.postMessage({ type: 'dispose' } satisfies WorkerRequest);
      const timer = setTimeout(() => void this.worker.terminate(), DISPOSE_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.worker.terminate();
    }
  }
}

export function createWorkerDetector(spec: DetectorSpec, envIn: DetectorEnv = {}): Promise<WorkerDetector> {
  return WorkerDetector.create(spec, envIn);
}
