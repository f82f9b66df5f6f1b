// Letterbox: scale the frame to fit the network input keeping its aspect ratio, place it top-left
// and pad the rest with grey 114 (the YOLOX / YOLOv8 convention).
import type { Box } from '../types.ts';
import { resizeRegionToPlanar, type Normalization, type RgbImage } from './resize.ts';

export const LETTERBOX_PAD = 114;

export interface Letterbox {
  /** input pixels per frame pixel */
  scale: number;
  /** size of the resized frame inside the input */
  width: number;
  height: number;
}

/** Geometry of letterboxing a frameW x frameH frame into inputW x inputH (YOLOX truncates the size). */
export function letterboxGeometry(frameW: number, frameH: number, inputW: number, inputH: number): Letterbox {
  const scale = Math.min(inputW / frameW, inputH / frameH);
  return {
    scale,
    width: Math.max(1, Math.min(inputW, Math.floor(frameW * scale))),
    height: Math.max(1, Math.min(inputH, Math.floor(frameH * scale))),
  };
}

/** Per tensor buffer, the pad letterboxInto last wrote into it (geometry and values). */
const padWritten = new WeakMap<Float32Array, string>();

/**
 * Writes the letterboxed frame as NCHW float (batch 1) into `out` (length 3 * inputW * inputH).
 * The image area is written every call; the pad area outside it only when this buffer has not got the
 * same pad already (it never changes between frames of one camera), so `out` must be reused only with
 * letterboxInto writing into it.
 */
export function letterboxInto(
  frame: RgbImage,
  out: Float32Array,
  inputW: number,
  inputH: number,
  norm: Normalization,
): Letterbox {
  const lb = letterboxGeometry(frame.width, frame.height, inputW, inputH);
  resizeRegionToPlanar(frame, 0, 0, frame.width, frame.height, out, 0, inputW, inputH, lb.width, lb.height, norm);
  const pad = [0, 1, 2].map((c) => LETTERBOX_PAD * norm.mul[c] + norm.add[c]);
  const key = `${inputW}x${inputH} ${lb.width}x${lb.height} ${pad.join(' ')}`;
  if (padWritten.get(out) === key) return lb;
  const plane = inputW * inputH;
  for (let c = 0; c < 3; c++) {
    const v = pad[c];
    const base = c * plane;
    if (lb.width < inputW) {
      for (let y = 0; y < lb.height; y++) out.fill(v, base + y * inputW + lb.width, base + (y + 1) * inputW);
    }
    if (lb.height < inputH) out.fill(v, base + lb.height * inputW, base + plane);
  }
  padWritten.set(out, key);
  return lb;
}

/** Maps a box in network input pixels back to frame pixels. */
export function unletterboxBox<T extends Box>(b: T, lb: Letterbox): T {
  return { ...b, x: b.x / lb.scale, y: b.y / lb.scale, w: b.w / lb.scale, h: b.h / lb.scale };
}
