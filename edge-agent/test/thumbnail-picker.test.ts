// Track thumbnails (privacy.preview 'thumbnails' / 'live'): which tracks get a crop and when (ThumbnailPicker),
// and that the crop is the track's box of the full-resolution frame, within the contract's bounds.
import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE, TrackThumbnailSchema } from '@mei/contracts';
import { cropRegion, encodeCrop } from '@mei/vision/image';
import { THUMBNAIL_EVERY_MS, ThumbnailPicker } from '../src/agent/thumbnail-picker.ts';
import type { TrackOutput } from '@mei/vision/types';

const W = 768;
const H = 576;
const track = (id: number, x: number, y: number, w: number, h: number, state: TrackOutput['state'] = 'confirmed'): TrackOutput => ({ id, x, y, w, h, score: 0.9, state });

describe('ThumbnailPicker', () => {
  it('picks a confirmed track once its box is a usable crop, then only a 2x larger one after the interval', () => {
    const p = new ThumbnailPicker();
    // Tentative, too small, or cut by the frame edge: nothing yet.
    expect(p.pick([track(1, 100, 100, 30, 80, 'tentative'), track(2, 100, 100, 10, 30), track(3, W - 10, 100, 40, 100)], W, H, 0)).toEqual([]);
    const [first] = p.pick([track(1, 100, 100, 30, 80)], W, H, 100);
    expect(first).toMatchObject({ id: 1 });
    // The region is the box padded by 8 % and whole pixels.
    expect(first.region).toEqual({ x: 97, y: 93, w: 36, h: 94 });
    expect(first.detail).toBe(36 * 94);
    p.sentFor(first.id, first.detail, 100);
    // Same size later, or 2x larger but too soon: nothing.
    expect(p.pick([track(1, 110, 100, 30, 80)], W, H, 100 + THUMBNAIL_EVERY_MS + 1)).toEqual([]);
    expect(p.pick([track(1, 110, 100, 60, 160)], W, H, 100 + THUMBNAIL_EVERY_MS - 1)).toEqual([]);
    const [better] = p.pick([track(1, 110, 100, 60, 160)], W, H, 100 + THUMBNAIL_EVERY_MS);
    expect(better.detail).toBeGreaterThanOrEqual(2 * first.detail);
    p.sentFor(better.id, better.detail, 100 + THUMBNAIL_EVERY_MS);
    // Past the largest thumbnail side the detail stops growing: a huge box is not "better".
    p.sentFor(1, 64 * 160, 10_000);
    expect(p.pick([track(1, 0, 0, 300, 570)], W, H, 20_000)).toEqual([]);
  });

  it('puts tracks without a thumbnail first and forgets removed tracks', () => {
    const p = new ThumbnailPicker();
    p.sentFor(1, 20 * 50, 0);
    const picks = p.pick([track(1, 0, 0, 60, 160), track(2, 300, 100, 30, 80)], W, H, 5_000);
    expect(picks.map((x) => x.id)).toEqual([2, 1]);
    expect(p.remembered).toBe(1);
    p.pick([track(1, 0, 0, 60, 160, 'removed')], W, H, 5_100);
    expect(p.remembered).toBe(0);
  });
});

describe('encodeCrop', () => {
  it('crops the region of the full-resolution frame and fits the contract', () => {
    // Frame: green everywhere, a red 40x100 "person" at (200, 150).
    const data = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) data[i * 3 + 1] = 180;
    for (let y = 150; y < 250; y++)
      for (let x = 200; x < 240; x++) {
        const i = (y * W + x) * 3;
        data[i] = 220;
        data[i + 1] = 0;
      }
    const region = cropRegion({ x: 200, y: 150, w: 40, h: 100 }, W, H);
    expect(region).toEqual({ x: 200, y: 150, w: 40, h: 100 });
    const img = encodeCrop({ width: W, height: H, data }, region);
    expect([img.width, img.height]).toEqual([40, 100]); // small enough: never scaled up or down
    const back = jpeg.decode(img.jpeg, { useTArray: true });
    const mid = (back.height / 2) * back.width * 4 + (back.width / 2) * 4;
    expect(back.data[mid]).toBeGreaterThan(180);
    expect(back.data[mid + 1]).toBeLessThan(60);

    // A tall box is scaled down to the largest side; the message passes the server's schema.
    const big = encodeCrop({ width: W, height: H, data }, cropRegion({ x: 100, y: 0, w: 200, h: 560 }, W, H, 0.08));
    expect(Math.max(big.width, big.height)).toBe(MAX_THUMBNAIL_SIDE);
    expect(big.jpeg.length).toBeLessThanOrEqual(MAX_THUMBNAIL_BYTES);
    const msg = { jobKey: 'ns/job', camera: 'left', session: 's1', localId: 3, frameIndex: 7, timestampMs: 700, ...big };
    expect(TrackThumbnailSchema.safeParse(msg).success).toBe(true);
    expect(() => encodeCrop({ width: W, height: H, data }, { x: 0, y: 0, w: 0, h: 10 })).toThrow(/empty/);
  });
});
