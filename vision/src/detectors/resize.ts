// Pixel -> tensor preprocessing without per-pixel allocation (in WebAssembly, resizeWasm.ts): bilinear resize
// (OpenCV INTER_LINEAR sampling, half-pixel centres) of a region of an RGB24 frame into planar float,
// with channel order and normalisation folded into one multiply-add per value.
import type { InputSpec } from '../models/registry.ts';
import { resizeWasm } from './resizeWasm.ts';

export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Per output plane: which RGB byte to read, and value = byte * mul + add. */
export interface Normalization {
  srcChannel: [number, number, number];
  mul: [number, number, number];
  add: [number, number, number];
}

export function normalizationFor(input: Pick<InputSpec, 'channelOrder' | 'scale' | 'mean' | 'std'>): Normalization {
  const srcChannel: [number, number, number] = input.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const mean = input.mean ?? [0, 0, 0];
  const std = input.std ?? [1, 1, 1];
  return {
    srcChannel,
    mul: [input.scale / std[0], input.scale / std[1], input.scale / std[2]],
    add: [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]],
  };
}

// Scratch tables reused across calls (sized up on demand; calls on one thread never interleave): per output
// column and row, the byte offsets of the two source pixels / rows it blends and its weight. The column
// weight is float32 and the row weight float64, as the one-pass formula always had them.
let xs0 = new Int32Array(0);
let xs1 = new Int32Array(0);
let xw = new Float32Array(0);
let ys0 = new Int32Array(0);
let ys1 = new Int32Array(0);
let yw = new Float64Array(0);

/** A call's column and row taps (the scratch tables above). */
export interface Taps {
  xs0: Int32Array;
  xs1: Int32Array;
  xw: Float32Array;
  ys0: Int32Array;
  ys1: Int32Array;
  yw: Float64Array;
}

/** Taps of n outputs over source positions [start, start + len) of a side of `size` pixels `step` bytes apart. */
function taps(start: number, len: number, n: number, size: number, step: number, i0: Int32Array, i1: Int32Array, w: Float32Array | Float64Array): void {
  const f = len / n;
  for (let k = 0; k < n; k++) {
    let s = start + (k + 0.5) * f - 0.5;
    if (s < 0) s = 0;
    if (s > size - 1) s = size - 1;
    const i = Math.floor(s);
    i0[k] = i * step;
    i1[k] = Math.min(i + 1, size - 1) * step;
    w[k] = s - i;
  }
}

/** One call's image, output and normalisation, as resizeWasm hands them to the module. */
export interface Pass {
  data: Uint8Array;
  out: Float32Array;
  plane: number;
  dw: number;
  c0: number;
  c1: number;
  c2: number;
  m0: number;
  m1: number;
  m2: number;
  a0: number;
  a1: number;
  a2: number;
}

/**
 * Resizes the region (sx, sy, sw, sh) of `img` to dw x dh and writes it at the top-left of the
 * 3 x planeH x planeW planar block starting at out[offset]. Pixels of the plane outside dw x dh are untouched.
 * Runs in WebAssembly (resizeWasm.ts). When output rows outnumber source rows (a ReID crop stretched to
 * 128x256), separable: each source row is resized horizontally once (float64, exact) and kept for the output
 * rows that blend it. Otherwise (the detector's letterbox shrinks 576 rows to 312: few rows repeat) one pass
 * samples the four neighbours of each pixel. Both evaluate the same float64 expressions as the one-pass
 * JavaScript they replaced (vision/test/reference): the same bits.
 */
export function resizeRegionToPlanar(
  img: RgbImage,
  sx: number,
  sy: number,
  sw: number,
  sh: number,
  out: Float32Array,
  offset: number,
  planeW: number,
  planeH: number,
  dw: number,
  dh: number,
  norm: Normalization,
): void {
  const { width: W, height: H, data } = img;
  if (dw < 1 || dh < 1) return;
  if (xs0.length < dw) [xs0, xs1, xw] = [new Int32Array(dw), new Int32Array(dw), new Float32Array(dw)];
  if (ys0.length < dh) [ys0, ys1, yw] = [new Int32Array(dh), new Int32Array(dh), new Float64Array(dh)];
  taps(sx, sw, dw, W, 3, xs0, xs1, xw);
  taps(sy, sh, dh, H, W * 3, ys0, ys1, yw);
  const [c0, c1, c2] = norm.srcChannel;
  const [m0, m1, m2] = norm.mul;
  const [a0, a1, a2] = norm.add;
  const p: Pass = { data, out, plane: planeW * planeH, dw, c0, c1, c2, m0, m1, m2, a0, a1, a2 };
  // Rows repeat when the output has more of them than the source region (a stretched ReID crop).
  resizeWasm(dh > sh, p, { xs0, xs1, xw, ys0, ys1, yw }, dh, offset, planeW, W * 3);
}
