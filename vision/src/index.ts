// @mei/vision: what the edge agent and the server share about pixels and people. Detectors, ReID and the model
// registry are their own entry points (@mei/vision/detectors, /reid, /models) because they load onnxruntime.
export type * from './types.ts';
export * from './geometry.ts';
export * from './vector.ts';
