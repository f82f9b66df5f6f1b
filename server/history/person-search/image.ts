// Query images and thumbnails: decoding in pure JS (jpeg-js, pngjs: no native code) to the RGB24 frame the
// edge pipeline's detector and embedders take, cropping, and JPEG encoding. Checks come first (image-check.ts):
// uploads decode off the event loop (decoder.ts); agents' previews and thumbnails, at most MAX_PREVIEW_SIDE
// pixels a side and exactly their stated size, decode here.
import jpeg from 'jpeg-js';
import { IMAGE_BOUNDS } from '@mei/contracts';
import { PNG } from 'pngjs';
import { downscaleToRgba } from '@mei/vision/image';
import { clipBox } from '@mei/vision/geometry';
import type { Box, Frame } from '@mei/vision/types';
import { ImageError, isJpeg, readImageHeader, type CheckedImage } from './image-check.ts';

export { ImageError, checkImage, type CheckedImage } from './image-check.ts';

/**
 * Decodes a checked image to RGB24 on this thread (transparent PNG pixels are blended onto mid grey): only
 * for images bounded small by their checks; uploads go through decoder.ts.
 */
export function decodeImage(img: CheckedImage, field = 'image'): Frame {
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  try {
    if (img.type === 'image/jpeg') {
      const d = jpeg.decode(img.bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: IMAGE_BOUNDS.maxPixels / 1e6, maxMemoryUsageInMB: IMAGE_BOUNDS.decoderHeapMb });
      ({ data: rgba, width, height } = d);
    } else {
      const d = PNG.sync.read(Buffer.from(img.bytes.buffer, img.bytes.byteOffset, img.bytes.byteLength));
      ({ data: rgba, width, height } = d);
    }
  } catch (e) {
    throw new ImageError(422, `cannot be decoded as ${img.type === 'image/png' ? 'PNG' : 'JPEG'}: ${(e as Error).message}`, field);
  }
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; i < width * height * 4; i += 4, o += 3) {
    const a = rgba[i + 3] / 255;
    data[o] = rgba[i] * a + 128 * (1 - a);
    data[o + 1] = rgba[i + 1] * a + 128 * (1 - a);
    data[o + 2] = rgba[i + 2] * a + 128 * (1 - a);
  }
  return { index: 0, timestampMs: 0, width, height, data };
}

/** A region of an RGB frame as its own frame (clipped to the frame). */
export function cropFrame(frame: Pick<Frame, 'width' | 'height' | 'data'>, box: Box): Frame {
  const c = clipBox(box, frame.width, frame.height);
  const x0 = Math.floor(c.x);
  const y0 = Math.floor(c.y);
  const w = Math.max(1, Math.min(frame.width - x0, Math.round(c.w)));
  const h = Math.max(1, Math.min(frame.height - y0, Math.round(c.h)));
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(frame.data.subarray(((y0 + y) * frame.width + x0) * 3, ((y0 + y) * frame.width + x0 + w) * 3), y * w * 3);
  return { index: 0, timestampMs: 0, width: w, height: h, data };
}

/** JPEG of a frame scaled down (never up) to fit maxW x maxH. */
export function encodeJpeg(frame: Pick<Frame, 'width' | 'height' | 'data'>, maxW: number, maxH: number, quality = 80): { jpeg: Uint8Array; width: number; height: number } {
  const s = Math.min(1, maxW / frame.width, maxH / frame.height);
  const width = Math.max(1, Math.round(frame.width * s));
  const height = Math.max(1, Math.round(frame.height * s));
  const out = jpeg.encode({ data: downscaleToRgba(frame, width, height), width, height }, quality);
  return { jpeg: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength), width, height };
}

/**
 * Decodes an agent's JPEG (preview frame or thumbnail) that says it is `stated` pixels: its complete header
 * must agree, and be no larger, before anything is decoded.
 */
export function decodeJpeg(bytes: Uint8Array, stated: { width: number; height: number }): Frame {
  if (!isJpeg(bytes)) throw new ImageError(422, 'is not a JPEG', 'jpeg');
  const side = Math.max(stated.width, stated.height);
  const h = readImageHeader(bytes, 'image/jpeg', 'jpeg', { side, pixels: stated.width * stated.height });
  if (h.width !== stated.width || h.height !== stated.height) throw new ImageError(422, `is ${h.width}x${h.height}, not the stated ${stated.width}x${stated.height}`, 'jpeg');
  return decodeImage({ type: 'image/jpeg', bytes, width: h.width, height: h.height }, 'jpeg');
}
