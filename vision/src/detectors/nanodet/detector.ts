// NanoDet person detector: letterbox -> converted NanoDet-g ONNX on onnxruntime-node -> GFL decode
// -> NMS -> frame pixels.
import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { clipBox } from '../../geometry.ts';
import type { Detection, Detector, Frame } from '../../types.ts';
import { checkInputShape } from '../../models/resolve.ts';
import { letterboxInto, unletterboxBox } from '../letterbox.ts';
import { nms } from '../nms.ts';
import { openOnnxModel, type OnnxModel } from '../onnxSession.ts';
import { normalizationFor, type Normalization } from '../resize.ts';
import { ensureNanoDetOnnx, type EnvVars } from './cache.ts';
import { decodeNanoDet, matchNanoDetOutputs, type NamedOutput } from './decode.ts';
import { NANODET_DEFAULTS, NANODET_INPUT } from './model.ts';

export { NANODET_DEFAULTS, NANODET_INPUT } from './model.ts';

export interface NanoDetOptions {
  /** A converted NanoDet ONNX file; default: ensureNanoDetOnnx() (converted at first use, cached). */
  modelPath?: string;
  /** Cache folder for the converted model when modelPath is not used. */
  cacheDir?: string;
  threads?: number;
  scoreThreshold?: number;
  nmsThreshold?: number;
  /** Network input size; multiples of 32 (the converted model has symbolic H and W). */
  inputWidth?: number;
  inputHeight?: number;
  /** COCO classes kept; default [0] (person). */
  classIds?: number[];
  // Also accepted as the generic factory (detectors/index.ts) passes them:
  input?: { width?: number; height?: number };
  /** A registry entry built at first use: a missing modelPath then means "convert into the cache". */
  entry?: { convertedFrom?: string };
  /** Spec field reported in model errors. */
  field?: string;
  env?: EnvVars;
}

/** Boxes smaller than this on a side (frame pixels) are dropped. */
const MIN_BOX_SIDE = 2;

function checkNumber(name: string, v: number, ok: (v: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`nanodet option ${name} must be ${what}, got ${v}`);
  return v;
}

function checkFrame(frame: Frame): void {
  const { width, height, data } = frame ?? ({} as Frame);
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new RangeError(`frame.width and frame.height must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new RangeError(`frame.data must be ${width * height * 3} bytes of RGB24 for ${width}x${height}, got ${data?.length}`);
  }
}

class NanoDetDetector implements Detector {
  readonly name: string;
  private readonly tensor: Float32Array;
  private readonly norm: Normalization = normalizationFor(NANODET_INPUT);
  /** detect() calls run one at a time: they share the input buffer. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly model: OnnxModel,
    readonly inputWidth: number,
    readonly inputHeight: number,
    private readonly scoreThreshold: number,
    private readonly nmsThreshold: number,
    private readonly classIds: number[],
  ) {
    this.name = `nanodet-g@${inputWidth}x${inputHeight}`;
    this.tensor = new Float32Array(3 * inputWidth * inputHeight);
  }

  /** Runs the network on the current input buffer; all outputs by name. */
  async infer(): Promise<Record<string, NamedOutput>> {
    const feeds = { [this.model.inputName]: new ort.Tensor('float32', this.tensor, [1, 3, this.inputHeight, this.inputWidth]) };
    const result = await this.model.session.run(feeds);
    const out: Record<string, NamedOutput> = {};
    for (const [name, t] of Object.entries(result)) out[name] = { dims: t.dims, data: t.data as Float32Array };
    return out;
  }

  detect(frame: Frame): Promise<Detection[]> {
    const run = this.queue.then(() => this.detectNow(frame));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async detectNow(frame: Frame): Promise<Detection[]> {
    if (this.disposed) throw new Error(`${this.name}: detect() after dispose()`);
    checkFrame(frame);
    const lb = letterboxInto(frame, this.tensor, this.inputWidth, this.inputHeight, this.norm);
    const levels = matchNanoDetOutputs(await this.infer(), this.inputWidth, this.inputHeight);
    const raw = decodeNanoDet(levels, { scoreThreshold: this.scoreThreshold, classIds: this.classIds });
    const result: Detection[] = [];
    for (const d of nms(raw, this.nmsThreshold)) {
      const b = clipBox(unletterboxBox(d, lb), frame.width, frame.height);
      if (b.w >= MIN_BOX_SIDE && b.h >= MIN_BOX_SIDE) result.push({ ...b, score: d.score, classId: d.classId });
    }
    return result;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await this.model.dispose();
  }
}

async function resolveModelFile(opts: NanoDetOptions): Promise<string> {
  if (opts.modelPath && (existsSync(opts.modelPath) || !opts.entry?.convertedFrom)) {
    if (!existsSync(opts.modelPath)) {
      throw new Error(`${opts.field ?? 'nanodet modelPath'}: NanoDet model not found: ${opts.modelPath} (build it with: node --import tsx tools/src/nanodet-convert.ts --out ${opts.modelPath})`);
    }
    return opts.modelPath;
  }
  return ensureNanoDetOnnx(opts.cacheDir, { env: opts.env });
}

/** A NanoDet-g person detector on onnxruntime-node; converts the packaged TF.js model on first use. */
export async function createNanoDetDetector(opts: NanoDetOptions = {}): Promise<Detector> {
  const inputWidth = checkNumber('inputWidth', opts.inputWidth ?? opts.input?.width ?? NANODET_DEFAULTS.inputWidth, (v) => Number.isInteger(v) && v >= 32 && v % 32 === 0, 'a positive multiple of 32');
  const inputHeight = checkNumber('inputHeight', opts.inputHeight ?? opts.input?.height ?? NANODET_DEFAULTS.inputHeight, (v) => Number.isInteger(v) && v >= 32 && v % 32 === 0, 'a positive multiple of 32');
  const threads = checkNumber('threads', opts.threads ?? NANODET_DEFAULTS.threads, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  const scoreThreshold = checkNumber('scoreThreshold', opts.scoreThreshold ?? NANODET_DEFAULTS.scoreThreshold, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const nmsThreshold = checkNumber('nmsThreshold', opts.nmsThreshold ?? NANODET_DEFAULTS.nmsThreshold, (v) => v >= 0 && v <= 1, 'in [0, 1]');
  const classIds = opts.classIds ?? [0];
  if (!classIds.length || classIds.some((c) => !Number.isInteger(c) || c < 0 || c >= 80)) {
    throw new RangeError(`nanodet option classIds must be COCO class ids 0..79, got [${classIds}]`);
  }

  const file = await resolveModelFile(opts);
  const field = opts.field ?? 'nanodet modelPath';
  const model = await openOnnxModel(file, { threads, field });
  try {
    checkInputShape(model.inputShape, [1, 3, inputHeight, inputWidth], field, file);
    const det = new NanoDetDetector(model, inputWidth, inputHeight, scoreThreshold, nmsThreshold, classIds);
    // One warm-up run also proves the outputs are NanoDet's at this input size.
    try {
      matchNanoDetOutputs(await det.infer(), inputWidth, inputHeight);
    } catch (e) {
      throw new Error(`${field}: ${file} is not a NanoDet model usable at ${inputWidth}x${inputHeight}: ${(e as Error).message}`);
    }
    return det;
  } catch (e) {
    await model.dispose();
    throw e;
  }
}
