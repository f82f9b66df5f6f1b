// NanoDet on PETS09-S2L1: ms per frame (letterbox + network + decode + NMS) and detection
// recall / precision at IoU >= 0.5 against the MOT15 ground truth.
//   node --import tsx edge-agent/bench/nanodet-bench.ts [--frames 20] [--threads 2] [--score 0.45] [--nms 0.5] [--size 416x416] [--json]
// Frames are spread evenly over the 795-frame video; the first detect() is a warm-up and not timed.
import { mkdtempSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createNanoDetDetector, ensureNanoDetOnnx } from '@mei/vision/detectors/nanodet';
import { matchDetections, PETS_VIDEO, readPetsGt, readVideoFrames, sumCounts } from '../test/nanodet-fixtures.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    score: { type: 'string' },
    nms: { type: 'string' },
    size: { type: 'string', default: '416x416' },
    'cache-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(values.frames);
const [inputWidth, inputHeight] = values.size!.split('x').map(Number);
const cacheDir = values['cache-dir'] ?? mkdtempSync(path.join(tmpdir(), 'mei-nanodet-bench-'));

const t0 = performance.now();
const modelPath = await ensureNanoDetOnnx(cacheDir);
const convertMs = performance.now() - t0;
const det = await createNanoDetDetector({
  modelPath,
  threads: Number(values.threads),
  inputWidth,
  inputHeight,
  scoreThreshold: values.score === undefined ? undefined : Number(values.score),
  nmsThreshold: values.nms === undefined ? undefined : Number(values.nms),
});
const indices = Array.from({ length: n }, (_, k) => Math.floor(((k + 0.5) * 795) / n));
const frames = await readVideoFrames(PETS_VIDEO, indices);
const gt = readPetsGt();
await det.detect(frames[0]);
const times: number[] = [];
const counts = [];
const cpu0 = process.cpuUsage();
for (const f of frames) {
  const s = performance.now();
  const dets = await det.detect(f);
  times.push(performance.now() - s);
  counts.push(matchDetections(dets, gt.get(f.index) ?? []));
}
const cpu = process.cpuUsage(cpu0);
await det.dispose();
times.sort((a, b) => a - b);
const total = sumCounts(counts);
const result = {
  detector: det.name,
  threads: Number(values.threads),
  frames: n,
  convertOrCacheMs: Math.round(convertMs),
  msPerFrame: { mean: +(times.reduce((a, b) => a + b, 0) / n).toFixed(1), median: +times[Math.floor(n / 2)].toFixed(1), min: +times[0].toFixed(1), max: +times[n - 1].toFixed(1) },
  // CPU time of this process per frame (all threads): less sensitive to other load than wall time.
  cpuMsPerFrame: +((cpu.user + cpu.system) / 1000 / n).toFixed(1),
  loadAverage1m: +loadavg()[0].toFixed(2),
  cores: availableParallelism(),
  gtBoxes: total.gt,
  detections: total.detections,
  truePositives: total.truePositives,
  recall: +total.recall.toFixed(3),
  precision: +total.precision.toFixed(3),
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`${result.detector}, ${result.threads} threads, ${n} frames of PETS09-S2L1`);
  console.log(`ms/frame: mean ${result.msPerFrame.mean}, median ${result.msPerFrame.median}, min ${result.msPerFrame.min}, max ${result.msPerFrame.max}`);
  console.log(`cpu ms/frame ${result.cpuMsPerFrame} (load average ${result.loadAverage1m} on ${result.cores} cores)`);
  console.log(`recall ${result.recall} (${result.truePositives}/${result.gtBoxes}), precision ${result.precision} (${result.truePositives}/${result.detections}) at IoU >= 0.5`);
}
