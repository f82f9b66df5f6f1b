// Vector search over person embeddings (see docs/decisions.md "Vector search").
export type { SearchFilter, SearchHit, VectorIndex, VectorMeta } from './types.ts';
export { ExactIndex, readManifest } from './exact-index.ts';
export { HnswIndex, loadUsearch, type HnswOptions, type HnswStats, type Quantization } from './hnsw-index.ts';
