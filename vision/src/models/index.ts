// The model registry (names users put in a job spec) and how a spec's model reference resolves to a file.
export * from './registry.ts';
export * from './resolve.ts';
export { withDynamicBatch, withInputSize } from './inputSize.ts';
