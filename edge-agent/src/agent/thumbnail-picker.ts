// Which confirmed tracks get a thumbnail (privacy.preview 'thumbnails' or 'live'): a track's first crop goes
// out on its first confirmed frame whose box is a usable person crop (big enough, not cut by the frame
// edge); after that only a clearly better one (THUMBNAIL_UPGRADE times the pixels of detail), and at most
// one per track per THUMBNAIL_EVERY_MS of video time. Detail is the crop's size after the downscale to
// MAX_THUMBNAIL_SIDE (never up), so once a person fills the largest thumbnail nothing more is sent. The
// agent is the only thumbnail producer; the server keeps one per track and replaces it by the same factor
// (both from @mei/contracts; server/history/thumbnails.ts).
import { THUMBNAIL_UPGRADE } from '@mei/contracts';
import type { Box, TrackOutput } from '@mei/vision/types';
import { area, clipBox } from '@mei/vision/geometry';
import { cropRegion, cropSize } from '@mei/vision/image';

/** Smallest box (camera pixels) worth a thumbnail: below it a crop shows a blob, not a person. */
export const THUMBNAIL_MIN_HEIGHT = 48;
export const THUMBNAIL_MIN_WIDTH = 16;
/** A box cut by the frame edge by more than this share shows part of a person: wait for a whole one. */
const MIN_VISIBLE = 0.85;
/** A new crop must have this many times the detail of the last one sent for the track (the contract's rule). */
export { THUMBNAIL_UPGRADE };
/** At most one thumbnail per track per this much video time. */
export const THUMBNAIL_EVERY_MS = 3_000;
/** Context around the box, as person crops are usually shown. */
export const THUMBNAIL_PAD = 0.08;
/**
 * Crops encoded per frame at most: jpeg-js builds its tables anew for every image (~10-25 ms on this
 * machine, most of a thumbnail's cost), so a crowd confirmed at once is spread over a few frames instead of
 * stalling one. Tracks left over are picked again on the next frame.
 */
export const MAX_THUMBNAILS_PER_FRAME = 2;
/** Tracks remembered; beyond it those not seen for a minute of video time are forgotten. */
const MAX_REMEMBERED = 1_000;

export interface ThumbnailPick {
  id: number;
  /** Whole pixels of the frame to crop (the box with padding, clipped). */
  region: Box;
  /** Pixels of the encoded crop (its detail). */
  detail: number;
}

interface Sent {
  detail: number;
  atMs: number;
  seenMs: number;
}

export class ThumbnailPicker {
  private readonly sent = new Map<number, Sent>();

  constructor(
    private readonly options: { upgrade?: number; everyMs?: number; minHeight?: number; minWidth?: number } = {},
  ) {}

  /**
   * The confirmed tracks of a frame whose crop should go out now, tracks without a thumbnail first, then
   * by gain. Nothing is recorded: call sent() for those actually sent. Removed tracks are forgotten.
   */
  pick(tracks: readonly TrackOutput[], frameWidth: number, frameHeight: number, timestampMs: number): ThumbnailPick[] {
    const upgrade = this.options.upgrade ?? THUMBNAIL_UPGRADE;
    const everyMs = this.options.everyMs ?? THUMBNAIL_EVERY_MS;
    const out: Array<ThumbnailPick & { gain: number }> = [];
    for (const t of tracks) {
      const prev = this.sent.get(t.id);
      if (t.state === 'removed') {
        this.sent.delete(t.id);
        continue;
      }
      if (prev) prev.seenMs = timestampMs;
      if (t.state !== 'confirmed' || !this.usable(t, frameWidth, frameHeight)) continue;
      // Time going backwards (a looped file restarts its clock) counts as elapsed.
      if (prev && timestampMs >= prev.atMs && timestampMs - prev.atMs < everyMs) continue;
      const region = cropRegion(t, frameWidth, frameHeight, THUMBNAIL_PAD);
      const { width, height } = cropSize(region);
      const detail = width * height;
      if (prev && detail < prev.detail * upgrade) continue;
      out.push({ id: t.id, region, detail, gain: prev ? detail / prev.detail : Infinity });
    }
    return out.sort((a, b) => b.gain - a.gain).map(({ gain: _gain, ...p }) => p);
  }

  /** Records that track `id`'s crop of `detail` pixels went out at `timestampMs`. */
  sentFor(id: number, detail: number, timestampMs: number): void {
    this.sent.set(id, { detail, atMs: timestampMs, seenMs: timestampMs });
    if (this.sent.size > MAX_REMEMBERED) for (const [k, s] of this.sent) if (Math.abs(timestampMs - s.seenMs) > 60_000) this.sent.delete(k);
  }

  /** Tracks with a thumbnail sent (tests, stats). */
  get remembered(): number {
    return this.sent.size;
  }

  private usable(t: Box, frameWidth: number, frameHeight: number): boolean {
    if (t.h < (this.options.minHeight ?? THUMBNAIL_MIN_HEIGHT) || t.w < (this.options.minWidth ?? THUMBNAIL_MIN_WIDTH)) return false;
    return area(clipBox(t, frameWidth, frameHeight)) >= MIN_VISIBLE * area(t);
  }
}
