// What the store can hold, in ONE place: every ObservationBatch field that reaches a SQL column is bounded
// here, and the zod schemas (events.ts) use these, so a batch that passes validation also fits the database
// (a value outside these would pass a bare `int()`/`finite()` check and then fail the SQL cast).
/** PostgreSQL `integer` (int4): local track ids, frame sizes, frame indexes. */
export const MAX_INT32 = 2 ** 31 - 1;
/** JavaScript's exact integer range, which is also inside PostgreSQL `bigint`: seqs, timestamps (ms). */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export const BOUNDS = {
  /** TrackObservation.id / TrackThumbnail.localId -> tracks.local_id (int4). */
  localId: MAX_INT32,
  /** ObservationBatch.seq: per (job, camera, session); starts from the wall clock x1000, so it needs 2^53. */
  seq: MAX_SAFE,
  /** Frame timestamps and emit times (ms) -> bigint columns; 2^53 ms is ~285,000 years. */
  timestampMs: MAX_SAFE,
  /** frameIndex -> int4 where stored. */
  frameIndex: MAX_INT32,
  /** Box coordinates and sizes (pixels): far beyond any frame, small enough for real and JSON. */
  coordinate: 1e7,
  /** Embedding components -> real (float4); embeddings are L2-normalised, this only keeps them well inside real. */
  embeddingComponent: 1e6,
} as const;
