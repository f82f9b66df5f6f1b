// Detection cadence on sequences other than the one it is benchmarked on (issue #16): the pipeline's own
// cadence logic (createPipeline detectEvery: Kalman prediction between detections, detection forced while a
// track is new or two people overlap) and MEI's tracker, motion only, fed the detections of a MOT file per
// frame instead of a network. The shared data has no TUD video, so the detections are a file:
//   TUD-Campus, TUD-Stadtmitte (640x480, 25 fps): test.txt, one tracker's output (py-motmetrics test data);
//   PETS09-S2L1 (768x576, 7 fps): det/det.txt, the public Faster R-CNN detections.
// Prints MOTA / IDF1 per sequence and cadence, and the share of frames detected. No models, little CPU.
//
// A cadence is a frame count (--every) or a time (--interval-ms, detectIntervalMs), each with every uncertainty
// limit of --max-shift (coastMaxShift; 'off' = none).
//
//   npm run bench:cadence -- [--json] [--every 1,2,3,4] [--interval-ms 80,120] [--max-shift off,0.5]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { motLines } from '../edge-agent/src/cli/track.ts';
import { evaluateMot, parseMot } from '../tools/src/mot-eval/index.ts';
import { createPipeline } from '../edge-agent/src/pipeline/pipeline.ts';
import type { Detection, Detector, Frame } from '@mei/vision/types';
import { createTracker } from '../edge-agent/src/tracker/index.ts';
import { numberFlag, runBench } from './bench-args.ts';

const USAGE = 'usage: npm run bench:cadence -- [--json] [--every 1,2,3,4] [--interval-ms 80,120] [--max-shift off,0.5]';

interface Cadence {
  every?: number;
  intervalMs?: number;
  maxShift?: number;
}

interface Sequence {
  name: string;
  gt: string;
  det: string;
  width: number;
  height: number;
  fps: number;
}

const SEQUENCES = (data: string): Sequence[] => [
  { name: 'TUD-Campus', gt: path.join(data, 'TUD-Campus/gt.txt'), det: path.join(data, 'TUD-Campus/test.txt'), width: 640, height: 480, fps: 25 },
  { name: 'TUD-Stadtmitte', gt: path.join(data, 'TUD-Stadtmitte/gt.txt'), det: path.join(data, 'TUD-Stadtmitte/test.txt'), width: 640, height: 480, fps: 25 },
  { name: 'PETS09-S2L1', gt: path.join(data, 'PETS09-S2L1/gt/gt.txt'), det: path.join(data, 'PETS09-S2L1/det/det.txt'), width: 768, height: 576, fps: 7 },
];

/** Detections by 0-based frame index; a file without scores (-1) gets 0.9 (above every threshold). */
export function loadDetections(file: string): { byFrame: Map<number, Detection[]>; frames: number } {
  const byFrame = new Map<number, Detection[]>();
  let frames = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const [f, , x, y, w, h, s] = line.split(',').map(Number);
    frames = Math.max(frames, f);
    const list = byFrame.get(f - 1) ?? [];
    list.push({ x, y, w, h, score: s > 0 ? s : 0.9, classId: 0 });
    byFrame.set(f - 1, list);
  }
  return { byFrame, frames };
}

async function runSequence(seq: Sequence, cadence: Cadence) {
  const { byFrame, frames } = loadDetections(seq.det);
  const data = new Uint8Array(0);
  async function* source(): AsyncGenerator<Frame> {
    for (let i = 0; i < frames; i++) yield { index: i, timestampMs: (i * 1000) / seq.fps, width: seq.width, height: seq.height, data };
  }
  const detector: Detector = { name: 'mot-file', detect: async (f) => byFrame.get(f.index) ?? [], dispose: async () => {} };
  const pipeline = createPipeline({
    source: source(),
    detector,
    tracker: createTracker(undefined),
    embedMinScore: 0.5,
    detectEvery: cadence.every,
    detectIntervalMs: cadence.intervalMs,
    coastMaxShift: cadence.maxShift,
  });
  let res = '';
  const summary = await pipeline.run((r) => void (res += motLines(r)));
  const m = evaluateMot(parseMot(readFileSync(seq.gt, 'utf8'), { kind: 'gt', source: seq.gt }), parseMot(res, { kind: 'res', source: `${seq.name}.txt` })).summary;
  return { sequence: seq.name, every: cadence.every ?? 1, intervalMs: cadence.intervalMs ?? 0, maxShift: cadence.maxShift ?? 'off', frames: summary.frames, detectedShare: Number((summary.detectedFrames / summary.frames).toFixed(3)), mota: Number((100 * m.mota).toFixed(1)), idf1: Number((100 * m.idf1).toFixed(1)), idsw: m.idsw };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, every: { type: 'string', default: '1,2,3,4' }, 'interval-ms': { type: 'string', default: '' }, 'max-shift': { type: 'string', default: 'off' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void console.log(USAGE);
  const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
  const everies = list(values.every).map((v) => numberFlag(v, '--every', 1, 1, 10, true));
  const intervals = list(values['interval-ms']).map((v) => numberFlag(v, '--interval-ms', 0, 0, 2000, true));
  const shifts = list(values['max-shift']).map((v) => (v === 'off' ? undefined : numberFlag(v, '--max-shift', 0.5, 0.01, 10)));
  const cadences: Cadence[] = [];
  for (const maxShift of shifts.length ? shifts : [undefined]) {
    for (const every of everies) cadences.push({ every, maxShift });
    for (const intervalMs of intervals) cadences.push({ intervalMs, maxShift });
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const data = process.env.MEI_DATA_DIR ?? path.resolve(root, '../shared/data');
  const loadStart = loadavg()[0];
  const rows = [];
  for (const seq of SEQUENCES(data)) for (const c of cadences) rows.push(await runSequence(seq, c));
  const report = { benchmark: 'detection cadence on MOT files (motion-only tracker)', date: new Date().toISOString(), loadAverage: [loadStart, loadavg()[0]], rows };
  if (values.json) console.log(JSON.stringify(report));
  else console.table(rows);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) runBench(main, USAGE);
