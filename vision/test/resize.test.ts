// The separable resize (src/detectors/resize.ts) and the pad-once letterbox against the one-pass versions
// they replaced (reference/resize-reference.ts): the tensors must be the same bits, on noise (every
// neighbour differs) and on the shapes the pipeline uses (768x576 letterbox, ReID crops up- and downscaled,
// boxes over the frame edge, 1-pixel boxes, crops written at batch offsets).
import { describe, expect, it } from 'vitest';
import { letterboxInto } from '../src/detectors/letterbox.ts';
import { normalizationFor, resizeRegionToPlanar, type RgbImage } from '../src/detectors/resize.ts';
import { clipBox } from '../src/geometry.ts';
import { referenceLetterboxInto, referenceResizeRegionToPlanar } from './reference/resize-reference.ts';

/** Deterministic noise (xorshift32). */
function noiseFrame(w: number, h: number, seed: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = s & 255;
  }
  return { width: w, height: h, data };
}

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Index of the first value whose bits differ (-1: identical); NaN patterns and -0 count as different. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) return 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

const YOLOX = normalizationFor({ channelOrder: 'bgr', scale: 1 });
const OSNET = normalizationFor({ channelOrder: 'rgb', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });

describe('separable resize = one-pass reference, bit for bit', () => {
  it('letterboxes 768x576 noise into 416x320 and 416x416 (BGR 0-255) as the reference does, frame after frame', () => {
    for (const [iw, ih] of [
      [416, 320],
      [416, 416],
      [320, 320],
    ]) {
      const mine = new Float32Array(3 * iw * ih).fill(-7);
      const ref = new Float32Array(3 * iw * ih).fill(-7);
      // Several frames into the same buffers: the pad, written once, must still be there.
      for (let f = 0; f < 3; f++) {
        const frame = noiseFrame(768, 576, 11 + f);
        expect(letterboxInto(frame, mine, iw, ih, YOLOX)).toEqual(referenceLetterboxInto(frame, ref, iw, ih, YOLOX));
        expect(firstBitDifference(mine, ref), `${iw}x${ih} frame ${f}`).toBe(-1);
      }
    }
  });

  it('rewrites the pad when the same buffer is letterboxed with another geometry or normalisation', () => {
    const mine = new Float32Array(3 * 64 * 64);
    const ref = new Float32Array(3 * 64 * 64);
    const cases: Array<[RgbImage, typeof YOLOX]> = [
      [noiseFrame(128, 64, 1), YOLOX],
      [noiseFrame(64, 128, 2), YOLOX],
      [noiseFrame(64, 128, 3), OSNET],
      [noiseFrame(128, 64, 4), YOLOX],
    ];
    for (const [frame, norm] of cases) {
      letterboxInto(frame, mine, 64, 64, norm);
      referenceLetterboxInto(frame, ref, 64, 64, norm);
      expect(firstBitDifference(mine, ref)).toBe(-1);
    }
  });

  it('resizes ReID crops (clipped, fractional, 1-pixel, up- and downscaled) into a batch as the reference does', () => {
    const frame = noiseFrame(768, 576, 5);
    const next = rng(42);
    const [w, h] = [128, 256];
    const per = 3 * w * h;
    const n = 8;
    for (let round = 0; round < 25; round++) {
      const mine = new Float32Array(n * per).fill(-3);
      const ref = new Float32Array(n * per).fill(-3);
      for (let i = 0; i < n; i++) {
        // Boxes from 1 px to larger than the crop, some over the frame edge (the embedder clips them).
        const bw = round === 0 && i === 0 ? 0.4 : 1 + next() * (i % 2 ? 60 : 300);
        const bh = round === 0 && i === 0 ? 0.4 : 1 + next() * (i % 3 ? 150 : 500);
        const box = { x: -40 + next() * 820, y: -40 + next() * 640, w: bw, h: bh };
        const c = clipBox(box, frame.width, frame.height);
        const args = [c.x, c.y, Math.max(c.w, 1), Math.max(c.h, 1)] as const;
        resizeRegionToPlanar(frame, ...args, mine, i * per, w, h, w, h, OSNET);
        referenceResizeRegionToPlanar(frame, ...args, ref, i * per, w, h, w, h, OSNET);
      }
      expect(firstBitDifference(mine, ref), `round ${round}`).toBe(-1);
    }
  });

  it('keeps the cached column taps of one image from leaking into another of a different width', () => {
    const a = noiseFrame(300, 200, 7);
    const b = noiseFrame(301, 200, 8);
    for (const img of [a, b, a]) {
      const mine = new Float32Array(3 * 50 * 40);
      const ref = new Float32Array(3 * 50 * 40);
      resizeRegionToPlanar(img, 10, 20, 200, 100, mine, 0, 50, 40, 50, 40, YOLOX);
      referenceResizeRegionToPlanar(img, 10, 20, 200, 100, ref, 0, 50, 40, 50, 40, YOLOX);
      expect(firstBitDifference(mine, ref)).toBe(-1);
    }
  });

  it('writes nothing for an empty output size, as the reference', () => {
    const mine = new Float32Array(3 * 8 * 8).fill(-1);
    resizeRegionToPlanar(noiseFrame(16, 16, 10), 0, 0, 16, 16, mine, 0, 8, 8, 0, 8, YOLOX);
    resizeRegionToPlanar(noiseFrame(16, 16, 10), 0, 0, 16, 16, mine, 0, 8, 8, 8, 0, YOLOX);
    expect(mine.every((v) => v === -1)).toBe(true);
  });

  it('leaves the plane outside dw x dh untouched', () => {
    const out = new Float32Array(3 * 20 * 10).fill(-1);
    resizeRegionToPlanar(noiseFrame(40, 40, 9), 0, 0, 40, 40, out, 0, 20, 10, 12, 6, YOLOX);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 10; y++) {
        for (let x = 0; x < 20; x++) expect(out[c * 200 + y * 20 + x] === -1).toBe(x >= 12 || y >= 6);
      }
    }
  });
});
