// createEmbedder(spec.models.reid): an ONNX ReID network, or colour histograms when there is no model.
import { withDefaults } from '@mei/contracts/defaults';
import type { ReidSpec } from '@mei/contracts/job';
import type { Embedder } from '../types.ts';
import { ModelError, resolveReidModel } from '../models/resolve.ts';
import { HistogramEmbedder } from './histogramEmbedder.ts';
import { OnnxEmbedder } from './onnxEmbedder.ts';

export { HistogramEmbedder } from './histogramEmbedder.ts';
export { OnnxEmbedder } from './onnxEmbedder.ts';
export { cosineDistance, dot, l2NormalizeInPlace } from '../vector.ts';

export interface EmbedderEnv {
  env?: Record<string, string | undefined>;
  threads?: number;
  field?: string;
}

export async function createEmbedder(spec: ReidSpec | undefined, envIn: EmbedderEnv = {}): Promise<Embedder> {
  const fieldBase = envIn.field ?? 'spec.models.reid';
  if (!spec || spec.kind === 'histogram') return new HistogramEmbedder();
  if (spec.kind !== 'onnx') throw new ModelError(`${fieldBase}.kind`, `unknown kind '${String(spec.kind)}' (known: onnx, histogram)`);
  const batchSize = withDefaults('models.reid', spec).batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ModelError(`${fieldBase}.batchSize`, `must be an integer >= 1, got ${batchSize}`);
  const resolved = resolveReidModel(spec, envIn.env ?? process.env, fieldBase);
  return OnnxEmbedder.create({
    modelPath: resolved.file,
    input: resolved.input,
    batchSize,
    threads: envIn.threads ?? withDefaults('workers[]').threads,
    field: spec.path ? `${fieldBase}.path` : `${fieldBase}.name`,
    name: resolved.entry?.name,
  });
}
