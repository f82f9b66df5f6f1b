// A person detector: letterbox -> ONNX network -> output decoder -> NMS -> frame pixels.
import { clipBox } from '../geometry.ts';
import type { Detection, Detector, Frame } from '../types.ts';
import type { DetectorDecoder, InputSpec, ModelEntry } from '../models/registry.ts';
import { withInputSize } from '../models/inputSize.ts';
import { checkInputShape, ModelError } from '../models/resolve.ts';
import type { DecodeContext, OutputDecoder } from './decoders.ts';
import { letterboxInto, unletterboxBox } from './letterbox.ts';
import { nms } from './nms.ts';
import { openOnnxModel, type OnnxModel } from './onnxSession.ts';
import { normalizationFor, type Normalization } from './resize.ts';

/** What every detector implementation takes (also passed to the NanoDet module's createNanoDetDetector). */
export interface DetectorOptions {
  /** Resolved ONNX file. */
  modelPath: string;
  decoder: DetectorDecoder;
  /** Input tensor name ('' = the model's first input), size, channel order and normalisation. */
  input: InputSpec;
  /** True when inputWidth/inputHeight came from the spec (else a fixed model input size wins). */
  inputSizeFromSpec: boolean;
  scoreThreshold: number;
  nmsThreshold: number;
  /** onnxruntime intra-op threads. */
  threads: number;
  /** COCO classes kept: [0] (person). */
  classIds: number[];
  /** Spec field of the model file, for errors (e.g. spec.models.detector.path). */
  field: string;
  /** Registry entry, when the spec named one. */
  entry?: ModelEntry;
  env: Record<string, string | undefined>;
}

/** Frames smaller than this many pixels on a side give no usable person boxes. */
const MIN_BOX_SIDE = 2;

export class OnnxDetector implements Detector {
  readonly name: string;
  private readonly tensor: Float32Array;
  private readonly norm: Normalization;
  private readonly ctx: DecodeContext;

  private constructor(
    private readonly model: OnnxModel,
    private readonly decoder: OutputDecoder,
    readonly inputWidth: number,
    readonly inputHeight: number,
    private readonly opts: DetectorOptions,
  ) {
    this.name = `${opts.entry?.name ?? opts.decoder}@${inputWidth}x${inputHeight}`;
    this.tensor = new Float32Array(3 * inputWidth * inputHeight);
    this.norm = normalizationFor(opts.input);
    this.ctx = { inputWidth, inputHeight, scoreThreshold: opts.scoreThreshold, classIds: opts.classIds };
  }

  static async create(opts: DetectorOptions, decoder: OutputDecoder): Promise<OnnxDetector> {
    let model: OnnxModel | undefined = await openOnnxModel(opts.modelPath, { threads: opts.threads, inputName: opts.input.tensor, field: opts.field });
    let w = opts.input.width;
    let h = opts.input.height;
    const declared = model.inputShape;
    const fixed = declared?.length === 4 && typeof declared[2] === 'number' && typeof declared[3] === 'number' && declared[2] > 0 && declared[3] > 0;
    let resized = false;
    try {
      if (fixed && !opts.inputSizeFromSpec) {
        // A model with a fixed input size decides the size unless the spec asked for one.
        h = declared[2] as number;
        w = declared[3] as number;
      } else if (fixed && (declared[2] !== h || declared[3] !== w)) {
        // The spec asks for another size than the export declares: re-declare it (works for size-agnostic graphs).
        let bytes: Uint8Array;
        try {
          bytes = withInputSize(opts.modelPath, model.inputName, w, h);
        } catch (e) {
          throw new ModelError(opts.field, `${opts.modelPath} takes input [${declared.join(',')}] and cannot be re-declared as ${w}x${h}: ${(e as Error).message}`);
        }
        const inputName = model.inputName;
        await model.dispose();
        model = undefined;
        try {
          model = await openOnnxModel(opts.modelPath, { threads: opts.threads, inputName, field: opts.field }, bytes);
        } catch (e) {
          throw new ModelError(opts.field, `${opts.modelPath} is exported for ${declared[3]}x${declared[2]} and does not run at ${w}x${h} (try a multiple of the network stride, 32): ${(e as Error).message.split(': ').slice(-1)[0]}`);
        }
        resized = true;
      }
      checkInputShape(model.inputShape, [1, 3, h, w], opts.field, opts.modelPath);
      const det = new OnnxDetector(model, decoder, w, h, opts);
      const session = model;
      // One warm-up run also proves the output fits the decoder.
      let out: { dims: readonly number[] };
      try {
        out = await session.run(det.tensor, [1, 3, h, w]);
      } catch (e) {
        const why = resized ? ` (its graph does not run at ${w}x${h}; use the exported size ${declared![3]}x${declared![2]} or a multiple of the network stride)` : '';
        throw new ModelError(opts.field, `${opts.modelPath} failed on a ${w}x${h} input${why}: ${(e as Error).message.split('\n')[0]}`);
      }
      try {
        decoder.check(out.dims, det.ctx);
      } catch (e) {
        throw new ModelError(opts.field, `${opts.modelPath} does not fit decoder '${opts.decoder}': ${(e as Error).message}`);
      }
      return det;
    } catch (e) {
      await model?.dispose();
      throw e;
    }
  }

  async detect(frame: Frame): Promise<Detection[]> {
    const lb = letterboxInto(frame, this.tensor, this.inputWidth, this.inputHeight, this.norm);
    const out = await this.model.run(this.tensor, [1, 3, this.inputHeight, this.inputWidth]);
    const raw = this.decoder.decode(out.data, out.dims, this.ctx);
    const result: Detection[] = [];
    for (const d of nms(raw, this.opts.nmsThreshold)) {
      const b = clipBox(unletterboxBox(d, lb), frame.width, frame.height);
      if (b.w >= MIN_BOX_SIDE && b.h >= MIN_BOX_SIDE) result.push({ ...b, score: d.score, classId: d.classId });
    }
    return result;
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
