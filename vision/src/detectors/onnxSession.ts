// onnxruntime-node session wrapper shared by the detector and the ReID embedder.
import ort from 'onnxruntime-node';
import { withDefaults } from '@mei/contracts/defaults';
import { ModelError } from '../models/resolve.ts';

export interface OnnxModel {
  readonly session: ort.InferenceSession;
  readonly file: string;
  readonly inputName: string;
  readonly outputName: string;
  /** Declared input shape; symbolic dims are strings. */
  readonly inputShape: ReadonlyArray<number | string> | undefined;
  run(input: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: readonly number[] }>;
  dispose(): Promise<void>;
}

export interface OnnxOptions {
  /** Intra-op threads (default spec.workers[].threads: the edge boxes MEI targets have few cores). */
  threads?: number;
  /** Name of the input tensor; default the model's first input. */
  inputName?: string;
  /** Spec field reported when the file cannot be loaded. */
  field: string;
}

/** Opens `file`; `bytes`, when given, is a rewritten copy of it held in memory (see models/inputSize.ts). */
export async function openOnnxModel(file: string, opts: OnnxOptions, bytes?: Uint8Array): Promise<OnnxModel> {
  let session: ort.InferenceSession;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads ?? withDefaults('workers[]').threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Idle intra-op threads sleep instead of spinning: with several networks (or cameras) sharing two cores,
    // spinning threads burn the CPU the others need (YOLOX-nano, 2 threads, busy box: 48 -> 24 CPU ms/frame).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  try {
    session = bytes ? await ort.InferenceSession.create(bytes, sessionOptions) : await ort.InferenceSession.create(file, sessionOptions);
  } catch (e) {
    throw new ModelError(opts.field, `cannot load ONNX model ${file}: ${(e as Error).message}`);
  }
  const inputName = opts.inputName || session.inputNames[0];
  if (!session.inputNames.includes(inputName)) {
    await session.release();
    throw new ModelError(opts.field, `${file} has no input '${inputName}' (inputs: ${session.inputNames.join(', ')})`);
  }
  const outputName = session.outputNames[0];
  const meta = session.inputMetadata.find((m) => m.name === inputName);
  const inputShape = meta && meta.isTensor ? meta.shape : undefined;
  return {
    session,
    file,
    inputName,
    outputName,
    inputShape,
    async run(input, dims) {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', input, dims as number[]) });
      const out = result[outputName];
      return { data: out.data as Float32Array, dims: out.dims };
    },
    dispose: () => session.release(),
  };
}
