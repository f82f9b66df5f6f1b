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

/**
 * Untrusted images (person-search uploads, agent thumbnails, preview frames): refused from their complete
 * headers before any pixel is decoded, then decoded off the event loop under these caps.
 */
export const IMAGE_BOUNDS = {
  /** Largest side, and pixel count, any decoded image may have (a 4096x4096 RGBA frame is 64 MB). */
  maxSide: 4096,
  maxPixels: 4096 * 4096,
  /** PNG pixel data once inflated (rows x (1 + row bytes)): 16-bit or interlaced bombs within the pixel cap. */
  maxRawBytes: 48 * 1024 * 1024,
  /** JPEG APPn/COM segments (EXIF, XMP, ICC) and PNG ancillary chunks, together. */
  maxMetadataBytes: 256 * 1024,
  /** PNG chunks in one file (a flood of tiny chunks costs time, not memory). */
  maxPngChunks: 10_000,
  /** JPEG segments before the scan. */
  maxJpegSegments: 1_000,
  /** V8 heap of the decoding thread (its resourceLimits) and the decode time limit. */
  decoderHeapMb: 192,
  decodeTimeoutMs: 15_000,
} as const;
