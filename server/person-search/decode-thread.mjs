// The image decoding thread (decoder.ts): jpeg-js / pngjs on bytes whose complete header was already checked
// (image-check.ts), under the thread's resourceLimits. Plain JavaScript: it needs no loader. Replies with
// RGB24 pixels (transparent PNG pixels blended onto mid grey) or an error message.
import { parentPort } from 'node:worker_threads';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

parentPort.on('message', ({ id, type, bytes, width: wantW, height: wantH, maxMegapixels, maxMemoryMb }) => {
  try {
    let d;
    if (type === 'image/jpeg') d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxMegapixels, maxMemoryUsageInMB: maxMemoryMb });
    else d = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const { width, height, data: rgba } = d;
    // The header said one size: a decoder that produced another was fooled; refuse rather than trust it.
    if (width !== wantW || height !== wantH) throw new Error(`decoded to ${width}x${height}, not the ${wantW}x${wantH} of its header`);
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, o = 0; i < width * height * 4; i += 4, o += 3) {
      const a = rgba[i + 3] / 255;
      data[o] = rgba[i] * a + 128 * (1 - a);
      data[o + 1] = rgba[i + 1] * a + 128 * (1 - a);
      data[o + 2] = rgba[i + 2] * a + 128 * (1 - a);
    }
    parentPort.postMessage({ id, width, height, data }, [data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
