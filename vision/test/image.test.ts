// Preview JPEGs (privacy.preview 'live' / 'snapshot'): downscaled, real JPEG, within the contract's bounds.
import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { MAX_PREVIEW_BYTES, PreviewFrameSchema } from '@mei/contracts';
import { downscaleToRgba, encodePreview } from '../src/image.ts';

/** An RGB frame: left half red, right half blue. */
function splitFrame(width: number, height: number) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (x < width / 2) data[i] = 200;
      else data[i + 2] = 200;
    }
  return { width, height, data };
}

describe('preview encoder', () => {
  it('downscales to the longest side and encodes a JPEG that decodes to the same picture', () => {
    const img = encodePreview(splitFrame(432, 576), { maxSide: 240 });
    expect([img.width, img.height]).toEqual([180, 240]);
    expect(img.jpeg.length).toBeLessThanOrEqual(MAX_PREVIEW_BYTES);
    const back = jpeg.decode(img.jpeg, { useTArray: true });
    expect([back.width, back.height]).toEqual([180, 240]);
    const px = (x: number, y: number) => Array.from(back.data.subarray((y * back.width + x) * 4, (y * back.width + x) * 4 + 3));
    const [r1, , b1] = px(20, 120);
    const [r2, , b2] = px(160, 120);
    expect(r1).toBeGreaterThan(150);
    expect(b1).toBeLessThan(60);
    expect(b2).toBeGreaterThan(150);
    expect(r2).toBeLessThan(60);
    // What the agent sends passes the server's schema.
    const msg = { jobKey: 'ns/job', camera: 'left', frameIndex: 0, timestampMs: 0, emittedAt: Date.now(), ...img };
    expect(PreviewFrameSchema.safeParse(msg).success).toBe(true);
  });

  it('averages the pixels each output pixel covers, and refuses short frame data', () => {
    const out = downscaleToRgba({ width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 200, 100, 50]) }, 1, 1);
    expect(Array.from(out)).toEqual([100, 50, 25, 255]);
    expect(() => downscaleToRgba({ width: 4, height: 4, data: new Uint8Array(10) }, 2, 2)).toThrow(/expected 48 for 4x4 RGB/);
  });
});
