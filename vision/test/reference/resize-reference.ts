// The one-pass bilinear resize MEI used before the separable one in src/detectors/resize.ts (commit dc843ca),
// kept verbatim as the reference its replacement must match bit for bit (resize.test.ts) and as the
// "before" of npm run bench:preprocess.
import { LETTERBOX_PAD, letterboxGeometry, type Letterbox } from '../../src/detectors/letterbox.ts';
import type { Normalization, RgbImage } from '../../src/detectors/resize.ts';

// Scratch index tables reused across calls (sized up on demand).
let xs0 = new Int32Array(0);
let xs1 = new Int32Array(0);
let xw = new Float32Array(0);

/**
 * Resizes the region (sx, sy, sw, sh) of `img` to dw x dh and writes it at the top-left of the
 * 3 x planeH x planeW planar block starting at out[offset]. Pixels of the plane outside dw x dh are untouched.
 */
export function referenceResizeRegionToPlanar(
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
  if (xs0.length < dw) {
    xs0 = new Int32Array(dw);
    xs1 = new Int32Array(dw);
    xw = new Float32Array(dw);
  }
  const fx = sw / dw;
  const fy = sh / dh;
  for (let x = 0; x < dw; x++) {
    let s = sx + (x + 0.5) * fx - 0.5;
    if (s < 0) s = 0;
    if (s > W - 1) s = W - 1;
    const i = Math.floor(s);
    xs0[x] = i * 3;
    xs1[x] = Math.min(i + 1, W - 1) * 3;
    xw[x] = s - i;
  }
  const plane = planeW * planeH;
  const [c0, c1, c2] = norm.srcChannel;
  const [m0, m1, m2] = norm.mul;
  const [a0, a1, a2] = norm.add;
  const stride = W * 3;
  for (let y = 0; y < dh; y++) {
    let s = sy + (y + 0.5) * fy - 0.5;
    if (s < 0) s = 0;
    if (s > H - 1) s = H - 1;
    const j = Math.floor(s);
    const wy = s - j;
    const r0 = j * stride;
    const r1 = Math.min(j + 1, H - 1) * stride;
    let o = offset + y * planeW;
    for (let x = 0; x < dw; x++, o++) {
      const p00 = r0 + xs0[x];
      const p01 = r0 + xs1[x];
      const p10 = r1 + xs0[x];
      const p11 = r1 + xs1[x];
      const wx = xw[x];
      let t = data[p00 + c0] + (data[p01 + c0] - data[p00 + c0]) * wx;
      let b = data[p10 + c0] + (data[p11 + c0] - data[p10 + c0]) * wx;
      out[o] = (t + (b - t) * wy) * m0 + a0;
      t = data[p00 + c1] + (data[p01 + c1] - data[p00 + c1]) * wx;
      b = data[p10 + c1] + (data[p11 + c1] - data[p10 + c1]) * wx;
      out[o + plane] = (t + (b - t) * wy) * m1 + a1;
      t = data[p00 + c2] + (data[p01 + c2] - data[p00 + c2]) * wx;
      b = data[p10 + c2] + (data[p11 + c2] - data[p10 + c2]) * wx;
      out[o + 2 * plane] = (t + (b - t) * wy) * m2 + a2;
    }
  }
}

/** letterboxInto as it was at dc843ca: the pad is filled every call. */
export function referenceLetterboxInto(frame: RgbImage, out: Float32Array, inputW: number, inputH: number, norm: Normalization): Letterbox {
  const lb = letterboxGeometry(frame.width, frame.height, inputW, inputH);
  referenceResizeRegionToPlanar(frame, 0, 0, frame.width, frame.height, out, 0, inputW, inputH, lb.width, lb.height, norm);
  const plane = inputW * inputH;
  for (let c = 0; c < 3; c++) {
    const v = LETTERBOX_PAD * norm.mul[c] + norm.add[c];
    const base = c * plane;
    if (lb.width < inputW) {
      for (let y = 0; y < lb.height; y++) out.fill(v, base + y * inputW + lb.width, base + (y + 1) * inputW);
    }
    if (lb.height < inputH) out.fill(v, base + lb.height * inputW, base + plane);
  }
  return lb;
}
