// Track thumbnails for the history store. The agent is their one producer (privacy: video stays on site, so
// the site cuts person crops by the contract's size rule, MAX_THUMBNAIL_SIDE, and the server only keeps
// them): a crop waits here until its track is known (its observations may still be queued), and a track
// keeps one thumbnail, replaced only by a crop with THUMBNAIL_UPGRADE times its pixels. Crops are checked
// (decoded) when taken for a flush, off the ingest path.
import { THUMBNAIL_UPGRADE } from '@mei/contracts';
import { decodeJpeg } from './person-search/image.ts';
import type { HistoryThumbnail } from './sink.ts';
import { trackKey, type TrackState } from './track-buffer.ts';

/** How long a crop waits for its track's observations. */
const MAX_WAIT_MS = 10_000;
/** Crops waiting for their track's observations (at most one per track). */
const MAX_PENDING = 512;

/** One thumbnail write of a flush. */
export interface ThumbnailWrite {
  st: TrackState;
  tMs: number;
  width: number;
  height: number;
  jpeg: Uint8Array;
  area: number;
  keepDays: number;
}

export interface ThumbnailCounters {
  /** Crops not kept: no larger than the track's, track never observed, or not a JPEG of the stated size. */
  dropped: number;
}

export class PendingThumbnails {
  private readonly waiting = new Map<string, HistoryThumbnail & { receivedAt: number }>();
  readonly counters: ThumbnailCounters = { dropped: 0 };

  constructor(private readonly debug: (msg: string) => void) {}

  get size(): number {
    return this.waiting.size;
  }

  /** An agent's crop (privacy already checked): kept if larger than one waiting for the same track. */
  add(t: HistoryThumbnail, now: number): void {
    const key = trackKey(t.jobUid, t.camera, t.session ?? '', t.localId);
    const waiting = this.waiting.get(key);
    if (waiting && waiting.width * waiting.height >= t.width * t.height) {
      this.counters.dropped++;
      return;
    }
    if (waiting) this.counters.dropped++;
    this.waiting.delete(key);
    this.waiting.set(key, { ...t, receivedAt: now });
    if (this.waiting.size > MAX_PENDING) {
      this.waiting.delete(this.waiting.keys().next().value!);
      this.counters.dropped++;
    }
  }

  /** Crops whose track is known and which beat the track's thumbnail, at most one per track. */
  take(tracks: ReadonlyMap<string, TrackState>, now: number, keepDays: (jobKey: string) => number): ThumbnailWrite[] {
    const out: ThumbnailWrite[] = [];
    for (const [key, t] of this.waiting) {
      const st = tracks.get(key);
      if (!st) {
        // Its observations may still be queued in the live hub; a track never observed is not stored.
        if (now - t.receivedAt >= MAX_WAIT_MS) {
          this.waiting.delete(key);
          this.counters.dropped++;
        }
        continue;
      }
      this.waiting.delete(key);
      const area = t.width * t.height;
      if (st.thumbnail && area < st.thumbnail.area * THUMBNAIL_UPGRADE) {
        this.counters.dropped++;
        continue;
      }
      try {
        decodeJpeg(t.jpeg, t); // refuses a header that disagrees with the stated size before decoding
      } catch (err) {
        this.counters.dropped++;
        this.debug(`history: thumbnail of ${t.jobKey}/${t.camera} track ${t.localId} not kept: ${(err as Error).message}`);
        continue;
      }
      out.push({ st, tMs: t.timestampMs, width: t.width, height: t.height, jpeg: t.jpeg, area, keepDays: keepDays(t.jobKey) });
    }
    return out;
  }

  /** Put back after a failed flush (unless a newer crop of the track arrived meanwhile). */
  restore(writes: readonly ThumbnailWrite[], now: number): void {
    for (const w of writes) {
      const key = trackKey(w.st.jobUid, w.st.camera, w.st.session, w.st.localId);
      if (this.waiting.has(key)) continue;
      this.waiting.set(key, { jobKey: w.st.jobKey, jobUid: w.st.jobUid, camera: w.st.camera, session: w.st.session, localId: w.st.localId, frameIndex: 0, timestampMs: w.tMs, width: w.width, height: w.height, jpeg: w.jpeg, receivedAt: now });
    }
  }
}
