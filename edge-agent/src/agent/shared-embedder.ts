// spec.workers[].shareReid: one ONNX ReID network per node instead of one per camera. Each camera's embed()
// joins a queue; while the network runs, the crops that arrive wait and then go through it together in one
// batched run (OnnxEmbedder.embedCrops), so ten cameras pay one session, one thread pool and fewer calls
// (bench:batch: OSNet x0.25 saves 0.2-1 CPU ms per crop in batches of 2-8). No crop waits for a batch to fill:
// an idle network runs at once. With an inference budget the batched run takes one slot.
import type { ReidSpec } from '@mei/contracts/job';
import type { Box, Embedder, Frame } from '@mei/vision/types';
import type { InferenceBudget } from './inference-budget.ts';

interface Pending {
  crops: Array<{ frame: Frame; box: Box }>;
  resolve: (e: Float32Array[]) => void;
  reject: (err: unknown) => void;
}

/** Budget key of the shared network's runs (its crops come from several cameras). */
export const SHARED_REID_CAMERA = '(shared ReID)';

export class BatchingEmbedder {
  private queue: Pending[] = [];
  private running = false;
  /** Runs made and crops embedded (bench:node reports crops per run). */
  runs = 0;
  crops = 0;

  constructor(
    readonly inner: Embedder,
    private readonly budget?: () => InferenceBudget | undefined,
  ) {}

  embed(frame: Frame, boxes: Box[]): Promise<Float32Array[]> {
    if (!boxes.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ crops: boxes.map((box) => ({ frame, box })), resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const jobs = this.queue.splice(0, this.queue.length);
        const crops = jobs.flatMap((j) => j.crops);
        const release = await this.budget?.()?.acquire(SHARED_REID_CAMERA);
        try {
          const out = this.inner.embedCrops ? await this.inner.embedCrops(crops) : await this.embedEach(jobs);
          this.runs++;
          this.crops += crops.length;
          let k = 0;
          for (const j of jobs) j.resolve(out.slice(k, (k += j.crops.length)));
        } catch (err) {
          for (const j of jobs) j.reject(err);
        } finally {
          release?.();
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** An embedder without embedCrops (histograms): one call per frame, still one at a time. */
  private async embedEach(jobs: Pending[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const j of jobs) out.push(...(await this.inner.embed(j.crops[0].frame, j.crops.map((c) => c.box))));
    return out;
  }
}

/** The node's shared ReID networks, one per distinct spec, alive while a camera holds a handle. */
export class SharedEmbedders {
  private readonly entries = new Map<string, { batcher: Promise<BatchingEmbedder>; refs: number }>();
  private readonly made: BatchingEmbedder[] = [];

  constructor(private readonly budget?: () => InferenceBudget | undefined) {}

  /** A handle on the shared network for `spec` (created by `create` the first time); dispose() lets go. */
  async acquire(spec: ReidSpec | undefined, threads: number, create: () => Promise<Embedder>): Promise<Embedder> {
    const key = JSON.stringify([spec, threads]);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { batcher: create().then((e) => this.keep(new BatchingEmbedder(e, this.budget))), refs: 0 };
      this.entries.set(key, entry);
      entry.batcher.catch(() => this.entries.delete(key));
    }
    entry.refs++;
    const held = entry;
    let batcher: BatchingEmbedder;
    try {
      batcher = await held.batcher;
    } catch (e) {
      held.refs--;
      throw e;
    }
    let released = false;
    const inner = batcher.inner;
    return {
      name: inner.name,
      dim: inner.dim,
      gateDistance: inner.gateDistance,
      embed: (frame, boxes) => batcher.embed(frame, boxes),
      dispose: async () => {
        if (released) return;
        released = true;
        if (--held.refs > 0) return;
        this.entries.delete(key);
        await inner.dispose();
      },
    };
  }

  /** Runs and crops of every shared network made so far. */
  stats(): { runs: number; crops: number } {
    return { runs: this.made.reduce((n, b) => n + b.runs, 0), crops: this.made.reduce((n, b) => n + b.crops, 0) };
  }

  private keep(b: BatchingEmbedder): BatchingEmbedder {
    this.made.push(b);
    return b;
  }
}
