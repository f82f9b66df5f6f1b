// Entry of the image decoding thread (decoder.ts). Plain JavaScript so the thread starts whatever loader the
// parent runs under: it registers tsx itself, then decodes with image.ts's decodeImage (the same code and
// limits as everywhere), replying with RGB24 pixels or an error message.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { decodeImage } = await import('./image.ts');

parentPort.on('message', ({ id, type, bytes, width, height }) => {
  try {
    const f = decodeImage({ type, bytes, width, height });
    // The header said one size: a decoder that produced another was fooled; refuse rather than trust it.
    if (f.width !== width || f.height !== height) throw new Error(`decoded to ${f.width}x${f.height}, not the ${width}x${height} of its header`);
    parentPort.postMessage({ id, width: f.width, height: f.height, data: f.data }, [f.data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e) });
  }
});
