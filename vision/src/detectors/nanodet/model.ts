// What the packaged NanoDet model is: its file name and how it reads pixels. A leaf module (type imports
// only) so the model registry can import it without loading onnxruntime or the converter.
import type { InputSpec } from '../../models/registry.ts';

/**
 * The package's nanodet.json is NanoDet-g (CSP backbone, LeakyReLU, 416x416, ~3.8M parameters),
 * not NanoDet-m (ShuffleNetV2, depthwise convs, ~0.95M).
 */
export const NANODET_ONNX_FILE = 'nanodet-g.onnx';

/**
 * How NanoDet reads pixels: BGR, (v - mean) / std with upstream NanoDet's constants. Measured on
 * 20 PETS09 frames: RGB with the same constants loses ~2 points of recall, raw 0-255 finds 14%.
 */
export const NANODET_INPUT: Readonly<Required<Pick<InputSpec, 'channelOrder' | 'scale' | 'mean' | 'std'>>> = {
  channelOrder: 'bgr',
  scale: 1,
  mean: [103.53, 116.28, 123.675],
  std: [57.375, 57.12, 58.395],
};

export const NANODET_DEFAULTS = {
  inputWidth: 416,
  inputHeight: 416,
  threads: 2,
  scoreThreshold: 0.45,
  nmsThreshold: 0.5,
} as const;
