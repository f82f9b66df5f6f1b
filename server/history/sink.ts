// What the live ingest hands to the history store: every applied observation batch of a job's camera, with
// each track already joined to its global identity. The call must return at once (the writer only buffers);
// persistence happens later, in batches, off the live path.
import type { LiveTrack } from '@mei/contracts';
import type { IdentityEvent } from '../identity/types.ts';
import type { LogKey } from '../lib/stream-key.ts';

/** One frame of a camera: its tracks labelled with global identities ('' while a track has none yet). */
export interface HistoryFrame {
  frameIndex: number;
  /** Source clock: epoch ms for live cameras, offset into the file for recorded ones. */
  timestampMs: number;
  width: number;
  height: number;
  tracks: readonly LiveTrack[];
}

export interface HistoryObservations {
  jobKey: string;
  jobUid: string;
  camera: string;
  /** The camera run that numbered the local ids (ObservationBatch.session). */
  session?: string;
  frames: readonly HistoryFrame[];
  /** Track embeddings of the batch, by local track id (ObservationBatch.embeddings). */
  embeddings?: ReadonlyArray<{ id: number; vector: ArrayLike<number> }>;
  /** The identity service's events for the batch: merges relabel stored tracks. */
  events?: readonly IdentityEvent[];
  /** The batch's ingest log row (server/ingest): marked applied in the transaction that stores this. */
  logKey?: LogKey;
}

/** A track's person crop cut by its agent (privacy.preview 'thumbnails' or 'live'; TrackThumbnail): the one thumbnail source. */
export interface HistoryThumbnail {
  jobKey: string;
  jobUid: string;
  camera: string;
  /** The camera run that numbered the local id (as in HistoryObservations). */
  session?: string;
  localId: number;
  frameIndex: number;
  timestampMs: number;
  width: number;
  height: number;
  jpeg: Uint8Array;
}

export interface HistorySink {
  /** Buffers the batch for the store; never throws for data reasons, never waits. */
  observations(o: HistoryObservations): void;
  /** A logged batch that leaves no history (duplicate, refused, job gone): its log row is marked applied all the same. */
  settle?(key: LogKey): void;
  /** Optional: an agent's crop of one track, kept as that track's thumbnail unless it has a clearly larger one. */
  thumbnail?(t: HistoryThumbnail): void;
}
