// Preview JPEGs for privacy.preview 'live' and 'snapshot': the decoded frame (RGB24) is box-filtered down to
// at most `maxSide` pixels on its longer side and JPEG-encoded in pure JS (jpeg-js: no native code on the
// edge node). At the default 2 fps this costs a few ms per frame beside the detector.
import jpeg from 'jpeg-js';
import { MAX_PREVIEW_BYTES, MAX_PREVIEW_SIDE } from '@mei/contracts';
import type { Frame } from '../pipeline/types.ts';

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
  const rgba = downscaleToRgba(frame, width, height);
  for (let quality = o.quality ?? 70; ; quality -= 20) {
    const out = jpeg.encode({ data: rgba, width, height }, Math.max(10, quality));
    if (out.data.length <= MAX_PREVIEW_BYTES || quality <= 10) return { jpeg: out.data, width, height };
  }
}

/** Box filter: each output pixel is the mean of the source pixels it covers. */
export function downscaleToRgba(frame: Pick<Frame, 'width' | 'height' | 'data'>, width: number, height: number): Buffer {
  const { width: sw, height: sh, data } = frame;
  if (data.length < sw * sh * 3) throw new RangeError(`frame data has ${data.length} bytes, expected ${sw * sh * 3} for ${sw}x${sh} RGB`);
  const out = Buffer.alloc(width * height * 4);
  const fx = sw / width;
  const fy = sh / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * fy);
    const y1 = Math.max(y0 + 1, Math.min(sh, Math.floor((y + 1) * fy)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * fx);
      const x1 = Math.max(x0 + 1, Math.min(sw, Math.floor((x + 1) * fx)));
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
