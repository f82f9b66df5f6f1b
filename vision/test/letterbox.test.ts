import { describe, expect, it } from 'vitest';
import { LETTERBOX_PAD, letterboxGeometry, letterboxInto, unletterboxBox } from '../src/detectors/letterbox.ts';
import { normalizationFor } from '../src/detectors/resize.ts';

function solidFrame(w: number, h: number, rgb: [number, number, number]) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { width: w, height: h, data };
}

describe('letterbox', () => {
  it('scales a 768x576 frame to 416x312 at the top-left of a 416x416 input', () => {
    const lb = letterboxGeometry(768, 576, 416, 416);
    expect(lb.scale).toBeCloseTo(416 / 768, 10);
    expect(lb.width).toBe(416);
    expect(lb.height).toBe(312);
  });

  it('fills the image area with the frame (BGR order, 0-255) and the rest with pad 114', () => {
    const frame = solidFrame(80, 40, [10, 20, 30]);
    const out = new Float32Array(3 * 64 * 64).fill(-1);
    const lb = letterboxInto(frame, out, 64, 64, normalizationFor({ channelOrder: 'bgr', scale: 1 }));
    expect(lb.width).toBe(64);
    expect(lb.height).toBe(32);
    const plane = 64 * 64;
    // Inside the image: B, G, R planes.
    expect(out[10 * 64 + 5]).toBeCloseTo(30);
    expect(out[plane + 10 * 64 + 5]).toBeCloseTo(20);
    expect(out[2 * plane + 31 * 64 + 63]).toBeCloseTo(10);
    // Below the image: pad on every plane, nothing left unwritten.
    for (let c = 0; c < 3; c++) expect(out[c * plane + 32 * 64]).toBe(LETTERBOX_PAD);
    expect(out.some((v) => v === -1)).toBe(false);
  });

  it('applies scale and mean/std normalisation in RGB order', () => {
    const frame = solidFrame(16, 16, [255, 0, 128]);
    const out = new Float32Array(3 * 16 * 16);
    letterboxInto(frame, out, 16, 16, normalizationFor({ channelOrder: 'rgb', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 1] }));
    expect(out[0]).toBeCloseTo((1 - 0.5) / 0.5, 5);
    expect(out[256]).toBeCloseTo((0 - 0.5) / 0.25, 5);
    expect(out[512]).toBeCloseTo(128 / 255 - 0.5, 5);
  });

  it('keeps a bright square where it was after resizing, and maps boxes back to frame pixels', () => {
    const frame = solidFrame(200, 100, [0, 0, 0]);
    for (let y = 40; y < 60; y++) for (let x = 120; x < 160; x++) frame.data.set([255, 255, 255], (y * 200 + x) * 3);
    const out = new Float32Array(3 * 100 * 100);
    const lb = letterboxInto(frame, out, 100, 100, normalizationFor({ channelOrder: 'rgb', scale: 1 }));
    expect(lb.scale).toBe(0.5);
    // In input pixels the square spans x 60-80, y 20-30.
    expect(out[25 * 100 + 70]).toBeCloseTo(255);
    expect(out[25 * 100 + 50]).toBeCloseTo(0);
    const back = unletterboxBox({ x: 60, y: 20, w: 20, h: 10 }, lb);
    expect(back).toEqual({ x: 120, y: 40, w: 40, h: 20 });
  });
});
