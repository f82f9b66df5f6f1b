// What the API route handlers may call on the history service. Types only: the handlers are bundled by
// Next, and must not pull in the native modules (onnxruntime, usearch) the service runs in the server process.
import type { ModelsSpec, PersonSearchResponse, StoredTrack, TrackDetail, TrackList, TracksPerHour } from '@mei/contracts';
import type { CheckedImage } from './person-search/image-check.ts';
import type { SearchScope } from './person-search/search.ts';
import type { TrackQuery } from './store.ts';

export interface HistoryApi {
  listTracks(q: TrackQuery): Promise<TrackList>;
  tracksPerHour(jobKey: string): Promise<TracksPerHour['buckets']>;
  getTrack(id: string): Promise<StoredTrack | undefined>;
  trackDetail(id: string): Promise<TrackDetail | undefined>;
  thumbnail(trackId: string): Promise<{ jpeg: Uint8Array; width: number; height: number } | undefined>;
  /** Decodes the (checked) image and searches with the job's models; ImageError (422) when it holds no person. */
  searchImage(models: ModelsSpec, image: CheckedImage, detect: boolean, scope: SearchScope): Promise<PersonSearchResponse>;
  searchTrack(track: StoredTrack, scope: SearchScope): Promise<PersonSearchResponse>;
}
