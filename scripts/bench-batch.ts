// Per-call overhead of the two networks (issue #16, batching): CPU per item when k inputs go through
// onnxruntime as k runs of one versus one run of k, at the intra-op threads a node's camera gets. What a
// batch saves is the per-call part (session dispatch, thread wake-ups, small-kernel setup); the convolutions
// scale with the batch either way. YOLOX's release export fixes the batch at 1: it is re-declared with
// withDynamicBatch (vision/src/models/inputSize.ts) for the batched runs.
//
//   npm run bench:batch -- [--json] [--batches 1,2,4,8] [--reps 20] [--threads 1]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openOnnxModel } from '@mei/vision/detectors/onnxSession';
import { withDynamicBatch, withInputSize } from '@mei/vision/models/inputSize';
import { numberFlag, runBench } from './bench-args.ts';

const USAGE = 'usage: npm run bench:batch -- [--json] [--batches 1,2,4,8] [--reps 20] [--threads 1]';

interface Net {
  name: string;
  bytes: Uint8Array;
  chw: [number, number, number];
}

function nets(modelDir: string, int8Dir: string | undefined): Net[] {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mei-batch-'));
  try {
    // The pipeline runs YOLOX-nano at 416x320 on a 4:3 camera (fitInput.ts).
    const batched = path.join(tmp, 'yolox.onnx');
    writeFileSync(batched, withDynamicBatch(path.join(modelDir, 'yolox_nano.onnx'), undefined));
    const list: Net[] = [
      { name: 'yolox-nano 416x320', bytes: withInputSize(batched, undefined, 416, 320), chw: [3, 320, 416] },
      { name: 'osnet-x0.25 float', bytes: withInputSize(path.join(modelDir, 'osnet_x0_25_msmt17.onnx'), undefined, 128, 256), chw: [3, 256, 128] },
    ];
    if (int8Dir) list.push({ name: 'osnet-x0.25 int8', bytes: withInputSize(path.join(int8Dir, 'osnet_x0_25_msmt17.int8.onnx'), undefined, 128, 256), chw: [3, 256, 128] });
    return list;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function measure(net: Net, batches: number[], reps: number, threads: number) {
  const model = await openOnnxModel(net.name, { threads, field: 'bench' }, net.bytes);
  const per = net.chw[0] * net.chw[1] * net.chw[2];
  const input = new Float32Array(Math.max(...batches) * per).map((_, i) => ((i * 7919) % 255) / 255);
  const cpuOf = async (run: () => Promise<unknown>) => {
    for (let i = 0; i < 3; i++) await run(); // warm-up
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await run();
    const c = process.cpuUsage(c0);
    return { cpuMs: (c.user + c.system) / 1000 / reps, wallMs: (performance.now() - t0) / reps };
  };
  const rows = [];
  for (const k of batches) {
    const singles = await cpuOf(async () => {
      for (let i = 0; i < k; i++) await model.run(input.subarray(i * per, (i + 1) * per), [1, ...net.chw]);
    });
    const batch = await cpuOf(async () => {
      const out = await model.run(input.subarray(0, k * per), [k, ...net.chw]);
      if (out.dims[0] !== k) throw new Error(`${net.name}: batch ${k} gave output [${out.dims.join(',')}]`);
    });
    const r2 = (v: number) => Math.round(v * 100) / 100;
    rows.push({
      net: net.name,
      batch: k,
      cpuMsPerItemSingles: r2(singles.cpuMs / k),
      cpuMsPerItemBatched: r2(batch.cpuMs / k),
      savedCpuMsPerItem: r2((singles.cpuMs - batch.cpuMs) / k),
      wallMsPerItemSingles: r2(singles.wallMs / k),
      wallMsPerItemBatched: r2(batch.wallMs / k),
    });
  }
  await model.dispose();
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, batches: { type: 'string', default: '1,2,4,8' }, reps: { type: 'string' }, threads: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log(USAGE);
  const batches = values.batches.split(',').map((v) => numberFlag(v.trim(), '--batches', 1, 1, 64, true));
  const reps = numberFlag(values.reps, '--reps', 20, 1, 10_000, true);
  const threads = numberFlag(values.threads, '--threads', 1, 1, 64, true);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const modelDir = process.env.MEI_SHARED_MODEL_DIR ?? path.resolve(root, '../shared/models');
  const loadStart = loadavg()[0];
  const rows = [];
  for (const net of nets(modelDir, process.env.MEI_INT8_DIR)) rows.push(...(await measure(net, batches, reps, threads)));
  const report = { benchmark: 'per-call overhead: k runs of one vs one run of k', date: new Date().toISOString(), threads, reps, loadAverage: [loadStart, loadavg()[0]], rows };
  if (values.json) console.log(JSON.stringify(report));
  else console.table(rows);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) runBench(main, USAGE);
