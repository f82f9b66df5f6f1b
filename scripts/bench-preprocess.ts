// The JavaScript around the two networks, per camera-frame, on real PETS09-S2L1 frames (issue #16, "cheaper
// pixels"): the detector's letterbox (768x576 -> 416x320), the ReID crops (the frame's ground-truth boxes ->
// 128x256), YOLOX decode + NMS on the network's real outputs, and handing the frame to the detector worker.
// Each stage runs the current code and the one it replaced (vision/test/reference: one-pass resize, pad
// every frame; a copied frame), over the same frames, and reports CPU ms (process.cpuUsage: every thread of
// this process, GC included) and whether the outputs are the same bits. --ffmpeg adds ffmpeg decode
// variants of vtest.avi (and of each --ffmpeg-video): CPU per frame of the ffmpeg process alone, and whether
// their RGB output is the same.
//
//   npm run bench:preprocess -- [--json] [--frames 100] [--reps 3] [--ffmpeg] [--ffmpeg-reps 3] [--ffmpeg-video <file>]...
// MEI_DATA_DIR: vtest.avi and PETS09-S2L1/gt/gt.txt; MEI_MODEL_DIR: yolox_nano.onnx (decode + NMS stage).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { childCpuMs } from './bench-cpu.ts';
import { benchFlags, FlagError, numberFlag, runBench } from './bench-args.ts';
import { decoderArgs, findFfmpeg, parseOutputSize } from '../edge-agent/src/sources/ffmpeg.ts';
import { parseSource } from '../edge-agent/src/sources/index.ts';
import { yoloxDecoder, type DecodeContext } from '@mei/vision/detectors/decoders';
import { letterboxGeometry, letterboxInto } from '@mei/vision/detectors/letterbox';
import { nms } from '@mei/vision/detectors/nms';
import { openOnnxModel } from '@mei/vision/detectors/onnxSession';
import { normalizationFor, resizeRegionToPlanar, type RgbImage } from '@mei/vision/detectors/resize';
import { clipBox } from '@mei/vision/geometry';
import { withInputSize } from '@mei/vision/models/inputSize';
import { findModel } from '@mei/vision/models/registry';
import type { Box } from '@mei/vision/types';
import { referenceLetterboxInto, referenceResizeRegionToPlanar } from '../vision/test/reference/resize-reference.ts';

const USAGE = 'usage: npm run bench:preprocess -- [--json] [--frames 100] [--reps 3] [--ffmpeg] [--ffmpeg-reps 3] [--ffmpeg-video <file>]...';
const round = (x: number, d = 3) => Number(x.toFixed(d));
const load = () => loadavg().map((x) => round(x, 2));

/** The detector input the pipeline fits to a 4:3 frame (fitInput.ts) and the ReID crop size. */
const DET = { w: 416, h: 320 };
const REID = { w: 128, h: 256 };

/** CPU ms per item of `body` over `items` items, best of `reps` (after one warm-up pass), and wall ms. */
async function cpuPer(items: number, reps: number, body: () => unknown): Promise<{ cpuMs: number; wallMs: number }> {
  await body();
  let best = { cpuMs: Infinity, wallMs: Infinity };
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await body();
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / items;
    if (cpuMs < best.cpuMs) best = { cpuMs, wallMs: (performance.now() - t0) / items };
  }
  return { cpuMs: round(best.cpuMs), wallMs: round(best.wallMs) };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** The first `n` frames of vtest.avi as RGB24, decoded with the agent's own ffmpeg arguments. */
function decodeFrames(video: string, n: number): RgbImage[] {
  const args = decoderArgs(parseSource(video), { realtime: false, loop: false });
  const at = args.indexOf('-f');
  args.splice(at, 0, '-frames:v', String(n));
  const r = spawnSync(findFfmpeg(), args, { maxBuffer: n * 768 * 576 * 3 + 1024, encoding: 'buffer' });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString().trim().split('\n').pop()}`);
  const [w, h] = [768, 576];
  const frames: RgbImage[] = [];
  for (let i = 0; (i + 1) * w * h * 3 <= r.stdout.length; i++) frames.push({ width: w, height: h, data: new Uint8Array(r.stdout.subarray(i * w * h * 3, (i + 1) * w * h * 3)) });
  return frames;
}

/** Ground-truth person boxes per video frame (MOT frame n = video frame n - 1). */
function gtBoxes(gtText: string, frames: number): Box[][] {
  const out: Box[][] = Array.from({ length: frames }, () => []);
  for (const line of gtText.split('\n')) {
    const f = line.split(',').map(Number);
    if (f.length >= 6 && f[0] - 1 < frames) out[f[0] - 1].push({ x: f[2], y: f[3], w: f[4], h: f[5] });
  }
  return out;
}

async function letterboxStage(frames: RgbImage[], reps: number) {
  const norm = normalizationFor(findModel('yolox-nano')!.input);
  const mine = new Float32Array(3 * DET.w * DET.h);
  const ref = new Float32Array(3 * DET.w * DET.h);
  let same = true;
  for (const f of frames) {
    letterboxInto(f, mine, DET.w, DET.h, norm);
    referenceLetterboxInto(f, ref, DET.w, DET.h, norm);
    same &&= sameBits(mine, ref);
  }
  return {
    stage: `detector letterbox ${frames[0].width}x${frames[0].height} -> ${DET.w}x${DET.h} (BGR 0-255)`,
    unit: 'frame',
    before: await cpuPer(frames.length, reps, () => frames.forEach((f) => referenceLetterboxInto(f, ref, DET.w, DET.h, norm))),
    after: await cpuPer(frames.length, reps, () => frames.forEach((f) => letterboxInto(f, mine, DET.w, DET.h, norm))),
    sameBits: same,
  };
}

async function cropStage(frames: RgbImage[], boxes: Box[][], reps: number) {
  const norm = normalizationFor(findModel('osnet-x0.25-msmt17')!.input);
  const per = 3 * REID.w * REID.h;
  const most = Math.max(1, ...boxes.map((b) => b.length));
  const mine = new Float32Array(most * per);
  const ref = new Float32Array(most * per);
  const crops = boxes.reduce((n, b) => n + b.length, 0);
  // As OnnxEmbedder.embedCrops: the clipped box, at least one pixel, stretched to the network input.
  const run = (resize: typeof resizeRegionToPlanar, out: Float32Array) => {
    frames.forEach((f, i) =>
      boxes[i].forEach((b, k) => {
        const c = clipBox(b, f.width, f.height);
        resize(f, c.x, c.y, Math.max(c.w, 1), Math.max(c.h, 1), out, k * per, REID.w, REID.h, REID.w, REID.h, norm);
      }),
    );
  };
  let same = true;
  for (let i = 0; i < frames.length && same; i++) {
    const one = (resize: typeof resizeRegionToPlanar, out: Float32Array) =>
      boxes[i].forEach((b, k) => {
        const c = clipBox(b, frames[i].width, frames[i].height);
        resize(frames[i], c.x, c.y, Math.max(c.w, 1), Math.max(c.h, 1), out, k * per, REID.w, REID.h, REID.w, REID.h, norm);
      });
    one(resizeRegionToPlanar, mine);
    one(referenceResizeRegionToPlanar, ref);
    same = sameBits(mine.subarray(0, boxes[i].length * per), ref.subarray(0, boxes[i].length * per));
  }
  return {
    stage: `ReID crops (ground-truth boxes, mean ${round(crops / frames.length, 2)} a frame) -> ${REID.w}x${REID.h} (RGB, ImageNet mean/std)`,
    unit: 'crop',
    before: await cpuPer(crops, reps, () => run(referenceResizeRegionToPlanar, ref)),
    after: await cpuPer(crops, reps, () => run(resizeRegionToPlanar, mine)),
    sameBits: same,
  };
}

async function decodeStage(frames: RgbImage[], modelDir: string, reps: number) {
  const file = path.join(modelDir, 'yolox_nano.onnx');
  const entry = findModel('yolox-nano')!;
  const probe = await openOnnxModel(file, { threads: 1, field: 'bench' });
  const inputName = probe.inputName;
  await probe.dispose();
  const model = await openOnnxModel(file, { threads: 1, field: 'bench' }, withInputSize(file, inputName, DET.w, DET.h));
  const tensor = new Float32Array(3 * DET.w * DET.h);
  const outputs: Array<{ data: Float32Array; dims: readonly number[] }> = [];
  try {
    for (const f of frames) {
      letterboxInto(f, tensor, DET.w, DET.h, normalizationFor(entry.input));
      const o = await model.run(tensor, [1, 3, DET.h, DET.w]);
      outputs.push({ data: o.data.slice(), dims: o.dims });
    }
  } finally {
    await model.dispose();
  }
  const rows = [];
  for (const score of [0.1, 0.3]) {
    const ctx: DecodeContext = { inputWidth: DET.w, inputHeight: DET.h, scoreThreshold: score, classIds: [0] };
    let raw = 0;
    const m = await cpuPer(outputs.length, reps, () => {
      raw = 0;
      for (const o of outputs) raw += nms(yoloxDecoder.decode(o.data, o.dims, ctx), 0.45).length;
    });
    rows.push({ stage: `YOLOX decode + NMS, score >= ${score} (${round(raw / outputs.length, 1)} boxes a frame kept)`, unit: 'frame', after: m });
  }
  return rows;
}

/** Frame handed to a worker as the pipeline does: a fresh buffer filled from the decoder, posted, answered. */
async function transferStage(frames: RgbImage[], reps: number) {
  const worker = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m.data[m.data.length - 1]));', { eval: true });
  const roundTrip = (data: Uint8Array) =>
    new Promise<number>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage({ data });
    });
  const run = (alloc: (n: number) => Uint8Array) => async () => {
    for (const f of frames) {
      const buf = alloc(f.data.length);
      buf.set(f.data);
      await roundTrip(buf);
    }
  };
  try {
    return {
      stage: `frame to the detector worker (${frames[0].width}x${frames[0].height} RGB: allocate, fill, post)`,
      unit: 'frame',
      before: await cpuPer(frames.length, reps, run((n) => new Uint8Array(n))),
      after: await cpuPer(frames.length, reps, run((n) => new Uint8Array(new SharedArrayBuffer(n)))),
    };
  } finally {
    await worker.terminate();
  }
}

/** ffmpeg's own CPU per frame decoding all of `video` to RGB24 with the agent's arguments edited, and a hash of its output. */
async function ffmpegRun(video: string, edit: (args: string[]) => string[]) {
  const args = edit(decoderArgs(parseSource(video), { realtime: false, loop: false }));
  const c0 = childCpuMs()!;
  const hash = createHash('sha256');
  let bytes = 0;
  let size: { width: number; height: number } | undefined;
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const child = spawn(findFfmpeg(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      size = parseOutputSize(stderr);
      if (code === 0 && size) resolve();
      else reject(new Error(`ffmpeg ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').pop()}`));
    });
  });
  const frames = bytes / (size!.width * size!.height * 3);
  return { cpuMs: (childCpuMs()! - c0) / frames, frames, sha256: hash.digest('hex').slice(0, 16) };
}

/** Removes `flag` and its value from an argument list. */
const without = (args: string[], flag: string) => args.filter((_, i) => args[i] !== flag && args[i - 1] !== flag);
/** Inserts `extra` before the first `before`. */
const insert = (args: string[], before: string, extra: string[]) => [...args.slice(0, args.indexOf(before)), ...extra, ...args.slice(args.indexOf(before))];

async function ffmpegStage(video: string, reps: number) {
  const variants: Array<{ name: string; edit: (a: string[]) => string[] }> = [
    { name: 'agent: -threads 1 -filter_threads 1', edit: (a) => a },
    { name: "ffmpeg's thread defaults (before)", edit: (a) => without(without(a, '-threads'), '-filter_threads') },
    { name: 'agent + -sws_flags fast_bilinear', edit: (a) => insert(a, '-f', ['-sws_flags', 'fast_bilinear']) },
    { name: 'agent + -flags2 +fast', edit: (a) => insert(a, '-i', ['-flags2', '+fast']) },
  ];
  // Rounds of every variant in turn, so that a change in the machine's load falls on all of them alike.
  const runs = variants.map(() => [] as Array<Awaited<ReturnType<typeof ffmpegRun>>>);
  for (let r = 0; r < reps; r++) for (const [i, v] of variants.entries()) runs[i].push(await ffmpegRun(video, v.edit));
  return variants.map((v, i) => {
    const cpu = runs[i].map((r) => r.cpuMs).sort((a, b) => a - b);
    return {
      variant: v.name,
      video: path.basename(video),
      frames: runs[i][0].frames,
      cpuMsPerFrameMean: round(cpu.reduce((a, b) => a + b, 0) / cpu.length, 2),
      cpuMsPerFrameMin: round(cpu[0], 2),
      sha256: runs[i][0].sha256,
      sameOutput: runs[i][0].sha256 === runs[0][0].sha256,
    };
  });
}

async function main(): Promise<void> {
  let values;
  try {
    values = benchFlags({ frames: { type: 'string' }, reps: { type: 'string' }, ffmpeg: { type: 'boolean', default: false }, 'ffmpeg-reps': { type: 'string' }, 'ffmpeg-video': { type: 'string', multiple: true } });
  } catch (e) {
    throw new FlagError((e as Error).message); // an unknown flag: usage, exit 2
  }
  const n = numberFlag(values.frames, '--frames', 100, 1, 795, true);
  const reps = numberFlag(values.reps, '--reps', 3, 1, 50, true);
  const ffmpegReps = numberFlag(values['ffmpeg-reps'], '--ffmpeg-reps', 3, 1, 20, true);
  const dataDir = process.env.MEI_DATA_DIR;
  if (!dataDir || !existsSync(path.join(dataDir, 'vtest.avi'))) throw new Error('set MEI_DATA_DIR to the folder with vtest.avi and PETS09-S2L1/gt/gt.txt');
  const video = path.join(dataDir, 'vtest.avi');
  const modelDir = process.env.MEI_MODEL_DIR;
  const report: Record<string, unknown> = {
    benchmark: 'preprocessing around the networks, PETS09-S2L1',
    date: new Date().toISOString(),
    command: `npm run bench:preprocess -- ${process.argv.slice(2).join(' ')}`.trim(),
    node: process.version,
    loadAverageStart: load(),
  };
  const frames = decodeFrames(video, n);
  const boxes = gtBoxes(readFileSync(path.join(dataDir, 'PETS09-S2L1/gt/gt.txt'), 'utf8'), frames.length);
  const lb = letterboxGeometry(frames[0].width, frames[0].height, DET.w, DET.h);
  report.frames = frames.length;
  report.letterbox = `${lb.width}x${lb.height} image in ${DET.w}x${DET.h}`;
  const stages: unknown[] = [await letterboxStage(frames, reps), await cropStage(frames, boxes, reps)];
  if (modelDir) stages.push(...(await decodeStage(frames, modelDir, reps)));
  stages.push(await transferStage(frames, reps));
  report.stages = stages;
  if (values.ffmpeg) {
    const rows = [];
    for (const v of [video, ...(values['ffmpeg-video'] ?? [])]) rows.push(...(await ffmpegStage(v, ffmpegReps)));
    report.ffmpeg = rows;
  }
  report.loadAverageEnd = load();
  if (values.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`${report.benchmark} - ${report.date}, ${report.frames} frames, load ${(report.loadAverageStart as number[]).join(' ')} -> ${(report.loadAverageEnd as number[]).join(' ')}`);
  console.table(
    (stages as Array<{ stage: string; unit: string; before?: { cpuMs: number }; after: { cpuMs: number }; sameBits?: boolean }>).map((s) => ({
      stage: s.stage,
      'CPU ms before': s.before ? `${s.before.cpuMs}/${s.unit}` : '-',
      'CPU ms now': `${s.after.cpuMs}/${s.unit}`,
      'same bits': s.sameBits ?? '-',
    })),
  );
  if (report.ffmpeg) console.table(report.ffmpeg);
}

runBench(main, USAGE);
