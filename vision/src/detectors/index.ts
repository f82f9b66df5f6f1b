// createDetector(spec.models.detector): resolves the model and picks the decoder implementation.
import { withDefaults } from '@mei/contracts/defaults';
import type { DetectorSpec } from '@mei/contracts/job';
import type { Detector } from '../types.ts';
import { ModelError, resolveDetectorModel } from '../models/resolve.ts';
import { yoloxDecoder, yolov8Decoder } from './decoders.ts';
import { OnnxDetector, type DetectorOptions } from './onnxDetector.ts';

import { reducedInputSize, reducedSpec, TwoScaleDetector } from './twoScale.ts';

export type { DetectorOptions } from './onnxDetector.ts';
export { OnnxDetector } from './onnxDetector.ts';
export { TwoScaleDetector } from './twoScale.ts';

export interface DetectorEnv {
  env?: Record<string, string | undefined>;
  /** onnxruntime intra-op threads (spec.workers[].threads); default: the CRD's. */
  threads?: number;
  /** Spec path of the detector object, for errors. */
  field?: string;
}

/** Turns a spec.models.detector object into the options every detector implementation takes. */
export function detectorOptions(spec: DetectorSpec, envIn: DetectorEnv = {}): DetectorOptions {
  const env = envIn.env ?? process.env;
  const fieldBase = envIn.field ?? 'spec.models.detector';
  const resolved = resolveDetectorModel(spec, env, fieldBase);
  for (const k of ['scoreThreshold', 'nmsThreshold'] as const) {
    const v = spec[k];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new ModelError(`${fieldBase}.${k}`, `must be in [0, 1], got ${v}`);
  }
  return {
    modelPath: resolved.file,
    decoder: resolved.decoder,
    input: resolved.input,
    inputSizeFromSpec: spec.inputWidth !== undefined || spec.inputHeight !== undefined,
    scoreThreshold: withDefaults('models.detector', spec).scoreThreshold,
    nmsThreshold: withDefaults('models.detector', spec).nmsThreshold,
    threads: envIn.threads ?? withDefaults('workers[]').threads,
    classIds: [0],
    field: spec.path ? `${fieldBase}.path` : `${fieldBase}.name`,
    entry: resolved.entry,
    env,
  };
}

export async function createDetector(spec: DetectorSpec, envIn: DetectorEnv = {}): Promise<Detector> {
  const scale = withDefaults('models.detector', spec).reducedInputScale;
  const field = `${envIn.field ?? 'spec.models.detector'}.reducedInputScale`;
  if (!(scale >= 0 && scale < 1)) throw new ModelError(field, `must be in [0, 1), got ${scale}`);
  const full = await createOneDetector(spec, envIn);
  if (scale === 0) return full;
  try {
    const { inputWidth, inputHeight } = full as Detector & { inputWidth?: number; inputHeight?: number };
    const opts = detectorOptions(spec, envIn);
    const size = reducedInputSize(
      { width: inputWidth ?? opts.input.width, height: inputHeight ?? opts.input.height },
      scale,
      opts.entry?.sizeStride ?? 32,
      field,
    );
    return new TwoScaleDetector(full, await createOneDetector(reducedSpec(spec, size), envIn));
  } catch (e) {
    await full.dispose();
    throw e;
  }
}

async function createOneDetector(spec: DetectorSpec, envIn: DetectorEnv): Promise<Detector> {
  const opts = detectorOptions(spec, envIn);
  switch (opts.decoder) {
    case 'yolox':
      return OnnxDetector.create(opts, yoloxDecoder);
    case 'yolov8':
      return OnnxDetector.create(opts, yolov8Decoder);
    case 'nanodet': {
      // The NanoDet module (TFJS -> ONNX conversion + its own decoder) lives in ./nanodet.
      let mod: { createNanoDetDetector(o: DetectorOptions): Promise<Detector> };
      try {
        mod = await import('./nanodet/index.js');
      } catch (e) {
        throw new ModelError(`${envIn.field ?? 'spec.models.detector'}.decoder`, `the nanodet decoder is not available: ${(e as Error).message}`);
      }
      return mod.createNanoDetDetector(opts);
    }
  }
}
