// Preview JPEGs for privacy.preview 'live' and 'snapshot': the decoded frame (RGB24) is box-filtered down to
// at most `maxSide` pixels on its longer side and JPEG-encoded in pure JS (jpeg-js: no native code on the
// edge node). At the default 2 fps this costs a few ms per frame beside the detector. Track thumbnails
// ('thumbnails' / 'live') are the same filter applied to a person's box of the full-resolution frame.
import jpeg from 'jpeg-js';
import { MAX_PREVIEW_BYTES, MAX_PREVIEW_SIDE, MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_SIDE } from '@mei/contracts';
import { clipBox } from './geometry.ts';
import type { Box, Frame } from './types.ts';

export interface PreviewImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

export interface PreviewOptions {
  maxSide?: number;
  /** JPEG quality 1-100. */
  quality?: number;
}

/** The frame downscaled and encoded; quality steps down if the JPEG would exceed the contract's bound. */
export function encodePreview(frame: Pick<Frame, 'width' | 'height' | 'data'>, o: PreviewOptions = {}): PreviewImage {
  const maxSide = Math.min(o.maxSide ?? 480, MAX_PREVIEW_SIDE);
  const scale = Math.min(1, maxSide / Math.max(frame.width, frame.height));
  const width = Math.max(1, Math.round(frame.width * scale));
  const height = Math.max(1, Math.round(frame.height * scale));
  return encodeBounded(downscaleToRgba(frame, width, height), width, height, o.quality ?? 70, MAX_PREVIEW_BYTES);
}

/** Whole pixels of `box` (with `pad` of its size around it) inside the frame; empty when it is outside. */
export function cropRegion(box: Box, frameWidth: number, frameHeight: number, pad = 0): Box {
  const c = clipBox({ x: box.x - box.w * pad, y: box.y - box.h * pad, w: box.w * (1 + 2 * pad), h: box.h * (1 + 2 * pad) }, frameWidth, frameHeight);
  const x = Math.floor(c.x);
  const y = Math.floor(c.y);
  return { x, y, w: Math.max(0, Math.min(frameWidth, Math.ceil(c.x + c.w)) - x), h: Math.max(0, Math.min(frameHeight, Math.ceil(c.y + c.h)) - y) };
}

/** Size of a region's crop scaled down (never up) to at most `maxSide` on its longer side. */
export function cropSize(region: Pick<Box, 'w' | 'h'>, maxSide = MAX_THUMBNAIL_SIDE): { width: number; height: number } {
  const scale = Math.min(1, Math.min(maxSide, MAX_THUMBNAIL_SIDE) / Math.max(region.w, region.h));
  return { width: Math.max(1, Math.round(region.w * scale)), height: Math.max(1, Math.round(region.h * scale)) };
}

/** A person crop (a track thumbnail): `region` (whole pixels, see cropRegion) of the frame, within the contract's bounds. */
export function encodeCrop(frame: Pick<Frame, 'width' | 'height' | 'data'>, region: Box, o: PreviewOptions = {}): PreviewImage {
  if (region.w < 1 || region.h < 1) throw new RangeError(`crop region ${region.w}x${region.h} is empty`);
  const { width, height } = cropSize(region, o.maxSide);
  return encodeBounded(downscaleToRgba(frame, width, height, region), width, height, o.quality ?? 80, MAX_THUMBNAIL_BYTES);
}

/** JPEG-encodes, stepping the quality down if the result would exceed `maxBytes`. */
function encodeBounded(rgba: Buffer, width: number, height: number, quality: number, maxBytes: number): PreviewImage {
  for (let q = quality; ; q -= 20) {
    const out = jpeg.encode({ data: rgba, width, height }, Math.max(10, q));
    if (out.data.length <= maxBytes || q <= 10) return { jpeg: out.data, width, height };
  }
}

/**
 * Box filter: each output pixel is the mean of the source pixels it covers. `region` (whole pixels inside
 * the frame; default the whole frame) is the part of the frame that is scaled.
 */
export function downscaleToRgba(frame: Pick<Frame, 'width' | 'height' | 'data'>, width: number, height: number, region?: Box): Buffer {
  const { width: sw, height: sh, data } = frame;
  if (data.length < sw * sh * 3) throw new RangeError(`frame data has ${data.length} bytes, expected ${sw * sh * 3} for ${sw}x${sh} RGB`);
  const { x: rx, y: ry, w: rw, h: rh } = region ?? { x: 0, y: 0, w: sw, h: sh };
  if (!(rx >= 0 && ry >= 0 && rw >= 1 && rh >= 1 && rx + rw <= sw && ry + rh <= sh) || [rx, ry, rw, rh].some((v) => !Number.isInteger(v))) {
    throw new RangeError(`region ${rx},${ry} ${rw}x${rh} is not whole pixels inside the ${sw}x${sh} frame`);
  }
  const out = Buffer.alloc(width * height * 4);
  const fx = rw / width;
  const fy = rh / height;
  for (let y = 0; y < height; y++) {
    const y0 = ry + Math.floor(y * fy);
    const y1 = Math.max(y0 + 1, Math.min(ry + rh, ry + Math.floor((y + 1) * fy)));
    for (let x = 0; x < width; x++) {
      const x0 = rx + Math.floor(x * fx);
      const x1 = Math.max(x0 + 1, Math.min(rx + rw, rx + Math.floor((x + 1) * fx)));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let yy = y0; yy < y1; yy++) {
        let i = (yy * sw + x0) * 3;
        for (let xx = x0; xx < x1; xx++, i += 3) {
          r += data[i];
          g += data[i + 1];
          b += data[i + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 4;
      out[o] = r / n;
      out[o + 1] = g / n;
      out[o + 2] = b / n;
      out[o + 3] = 255;
    }
  }
  return out;
}
