// The job's own models on the server, for query images: the same embedder (and detector) code the edge
// agent runs (@mei/edge-agent), created from the job's spec.models and kept for reuse. Calls to one model
// are serialised (the model reuses its input buffers). onnxruntime is loaded on the first query, not at start.
import type { DetectorSpec, ModelsSpec } from '@mei/contracts';
import type { Box, Detector, Embedder, Frame } from '@mei/vision/types';
import { area, clipBox } from '@mei/vision/geometry';
import { reidModelKey } from '../model-key.ts';

interface Cached<T> {
  model: Promise<T>;
  queue: Promise<unknown>;
  usedAt: number;
}

/** Models kept loaded at once (each OSNet/YOLOX session holds tens of MB). */
const MAX_MODELS = 4;

export class JobModels {
  private readonly embedders = new Map<string, Cached<Embedder>>();
  private readonly detectors = new Map<string, Cached<Detector>>();

  constructor(private readonly options: { env?: Record<string, string | undefined>; threads?: number } = {}) {}

  /** The embedding of `box` in `frame` with the job's ReID model (histograms when it has none). */
  async embed(models: ModelsSpec, frame: Frame, box: Box): Promise<{ model: string; vector: Float32Array }> {
    const key = reidModelKey(models.reid);
    const c = this.cached(this.embedders, JSON.stringify(models.reid ?? null), async () =>
      (await import('@mei/vision/reid')).createEmbedder(models.reid, { env: this.options.env, threads: this.options.threads ?? 1 }),
    );
    const [vector] = await this.run(c, (e) => e.embed(frame, [box]));
    return { model: key, vector };
  }

  /**
   * The largest person the job's detector finds in the frame, if any. A tight person crop (what users often
   * upload) fills the network input edge to edge, which detectors trained on scenes sometimes miss: when the
   * image alone gives nothing, it is tried once more framed by a neutral border.
   */
  async largestPerson(detector: DetectorSpec, frame: Frame): Promise<Box | undefined> {
    const c = this.cached(this.detectors, JSON.stringify(detector), async () =>
      (await import('@mei/vision/detectors')).createDetector(detector, { env: this.options.env, threads: this.options.threads ?? 1 }),
    );
    const largest = (boxes: Box[]) => boxes.reduce<Box | undefined>((best, d) => (!best || area(d) > area(best) ? { x: d.x, y: d.y, w: d.w, h: d.h } : best), undefined);
    const direct = largest(await this.run(c, (d) => d.detect(frame)));
    if (direct) return direct;
    const padX = Math.round(frame.width * 0.5);
    const padY = Math.round(frame.height * 0.15);
    const framed = withBorder(frame, padX, padY);
    const found = largest(await this.run(c, (d) => d.detect(framed)));
    return found && clipBox({ ...found, x: found.x - padX, y: found.y - padY }, frame.width, frame.height);
  }

  async close(): Promise<void> {
    const all = [...this.embedders.values(), ...this.detectors.values()];
    this.embedders.clear();
    this.detectors.clear();
    await Promise.all(all.map((c) => c.model.then((m) => m.dispose()).catch(() => undefined)));
  }

  private cached<T extends { dispose(): Promise<void> }>(map: Map<string, Cached<T>>, key: string, create: () => Promise<T>): Cached<T> {
    let c = map.get(key);
    if (!c) {
      if (map.size >= MAX_MODELS) {
        const [oldKey, old] = [...map.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt)[0];
        map.delete(oldKey);
        void old.queue.then(() => old.model).then((m) => m.dispose()).catch(() => undefined);
      }
      c = { model: create(), queue: Promise.resolve(), usedAt: Date.now() };
      map.set(key, c);
      // A model that failed to load (missing file) is not kept: the next query tries again.
      c.model.catch(() => map.get(key) === c && map.delete(key));
    }
    c.usedAt = Date.now();
    return c;
  }

  private run<T, R>(c: Cached<T>, fn: (m: T) => Promise<R>): Promise<R> {
    const next = c.queue.then(() => c.model).then(fn);
    c.queue = next.catch(() => undefined);
    return next;
  }
}

/** The frame centred on a grey canvas (YOLOX's letterbox grey), padX/padY pixels larger on each side. */
function withBorder(frame: Frame, padX: number, padY: number): Frame {
  const width = frame.width + 2 * padX;
  const height = frame.height + 2 * padY;
  const data = new Uint8Array(width * height * 3).fill(114);
  for (let y = 0; y < frame.height; y++) data.set(frame.data.subarray(y * frame.width * 3, (y + 1) * frame.width * 3), ((y + padY) * width + padX) * 3);
  return { ...frame, width, height, data };
}

