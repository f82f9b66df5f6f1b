// ReID embedder for any ONNX network [N,3,H,W] -> [N,D]: crops are resized (stretched, as in training)
// into one batch tensor per call of up to batchSize crops; outputs are L2-normalised.
import { openOnnxModel, type OnnxModel } from '../detectors/onnxSession.ts';
import { normalizationFor, resizeRegionToPlanar, type Normalization } from '../detectors/resize.ts';
import type { InputSpec } from '../models/registry.ts';
import { withInputSize } from '../models/inputSize.ts';
import { checkInputShape, ModelError } from '../models/resolve.ts';
import { clipBox } from '../geometry.ts';
import type { Box, Embedder, Frame } from '../types.ts';
import { l2NormalizeInPlace } from '../vector.ts';

export interface OnnxEmbedderOptions {
  modelPath: string;
  input: InputSpec;
  batchSize: number;
  threads: number;
  /** Spec field of the model file, for errors. */
  field: string;
  name?: string;
}

export class OnnxEmbedder implements Embedder {
  readonly name: string;
  // OSNet on PETS09-S2L1: same person 0.16, different people 0.54 on average.
  readonly gateDistance = 0.6;
  private readonly norm: Normalization;
  private batch: Float32Array;

  private constructor(
    private readonly model: OnnxModel,
    readonly dim: number,
    private readonly batchSize: number,
    /** The model takes exactly batchSize crops per call (fixed batch dimension). */
    private readonly fixedBatch: boolean,
    private readonly input: InputSpec,
    name: string,
  ) {
    this.name = name;
    this.norm = normalizationFor(input);
    this.batch = new Float32Array(0);
  }

  static async create(opts: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    const { width: w, height: h } = opts.input;
    const sessionOpts = { threads: opts.threads, inputName: opts.input.tensor, field: opts.field };
    let model = await openOnnxModel(opts.modelPath, sessionOpts);
    // A ReID network pools globally, so an export fixed at one crop size (OSNet's 256x128) runs at another
    // (spec models.reid.inputWidth/inputHeight): re-declare its input, as the detector does for its size.
    const declared = model.inputShape;
    if (declared?.length === 4 && typeof declared[2] === 'number' && typeof declared[3] === 'number' && (declared[2] !== h || declared[3] !== w)) {
      const bytes = withInputSize(opts.modelPath, model.inputName, w, h);
      await model.dispose();
      model = await openOnnxModel(opts.modelPath, sessionOpts, bytes);
    }
    try {
      checkInputShape(model.inputShape, [-1, 3, h, w], opts.field, opts.modelPath);
      // A model exported with a fixed batch dimension can only take that many crops at once.
      const fixedBatch = typeof model.inputShape?.[0] === 'number' && model.inputShape[0] > 0 ? model.inputShape[0] : undefined;
      const batchSize = fixedBatch ?? opts.batchSize;
      const probe = await model.run(new Float32Array((fixedBatch ?? 1) * 3 * w * h), [fixedBatch ?? 1, 3, h, w]);
      if (probe.dims.length !== 2) {
        throw new ModelError(opts.field, `${opts.modelPath} must output [N, D] embeddings, got [${probe.dims.join(', ')}]`);
      }
      return new OnnxEmbedder(model, probe.dims[1], batchSize, fixedBatch !== undefined, opts.input, opts.name ?? opts.modelPath);
    } catch (e) {
      await model.dispose();
      throw e;
    }
  }

  embed(frame: Frame, boxes: Box[]): Promise<Float32Array[]> {
    return this.embedCrops(boxes.map((box) => ({ frame, box })));
  }

  async embedCrops(crops: ReadonlyArray<{ frame: Frame; box: Box }>): Promise<Float32Array[]> {
    const { width: w, height: h } = this.input;
    const per = 3 * w * h;
    const out: Float32Array[] = [];
    for (let start = 0; start < crops.length; start += this.batchSize) {
      const chunk = crops.slice(start, start + this.batchSize);
      // Fixed-batch models need a full batch; dynamic ones get exactly the crops.
      const n = this.fixedBatch ? this.batchSize : chunk.length;
      if (this.batch.length < n * per) this.batch = new Float32Array(n * per);
      chunk.forEach(({ frame, box: b }, i) => {
        const c = clipBox(b, frame.width, frame.height);
        // Degenerate boxes still get an embedding (of the nearest pixel) so outputs align with inputs.
        resizeRegionToPlanar(frame, c.x, c.y, Math.max(c.w, 1), Math.max(c.h, 1), this.batch, i * per, w, h, w, h, this.norm);
      });
      const res = await this.model.run(this.batch.subarray(0, n * per), [n, 3, h, w]);
      for (let i = 0; i < chunk.length; i++) {
        out.push(l2NormalizeInPlace(res.data.slice(i * this.dim, (i + 1) * this.dim)));
      }
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
