// The name under which a job's embeddings are stored (embeddings.model) and searched: vectors of different
// ReID models are not comparable, so queries only ever meet vectors of the same key.
import type { ReidSpec } from '@mei/contracts';

/** The agent embeds with colour histograms when spec.models.reid is absent or kind 'histogram'. */
export const HISTOGRAM_MODEL = 'histogram';

export function reidModelKey(reid: ReidSpec | undefined): string {
  if (!reid || reid.kind === 'histogram') return HISTOGRAM_MODEL;
  // A path overrides the registry file, so it names the model more precisely than the registry name.
  return (reid.path ?? reid.name ?? 'onnx').slice(0, 128);
}
