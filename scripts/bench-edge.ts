// Edge pipeline benchmark on PETS09-S2L1 (vtest.avi, 795 frames, 768x576): per model set, per-stage
// ms/frame, end-to-end fps, CPU ms/frame, and MOTA / IDF1 / HOTA against the MOT15 ground truth
// (video frame n = GT frame n + 1), with the machine's facts and load average at start and end.
//
//   npm run bench:edge -- [--json] [--sets a,b] [--max-frames N] [--threads N|D,E] [--score S]
//                         [--input-size WxH] [--reid-input WxH] [--sequential] [--detect-every K] [--detect-interval-ms MS]
//                         [--reduced-input-scale S [--full-every N]] [--out <dir>]
//   a: YOLOX-nano + OSNet x0.25 (files from MEI_MODEL_DIR)
//   q: set a quantized to int8 (scripts/quantize-models.sh; MEI_MODEL_DIR = its output folder)
//   b: NanoDet-g (converted from the npm package at first use, cached) + colour histograms: needs nothing
//      outside npm
// MEI_DATA_DIR must hold vtest.avi and PETS09-S2L1/gt/gt.txt. Metrics in --json are fractions 0..1.
// The machine may be shared: compare fps together with the load average, and CPU ms/frame (what the
// pipeline itself burns) across machines.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, homedir, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { numberFlag } from './bench-args.ts';
import { childCpuMs } from './bench-cpu.ts';
import { withDefaults, type DetectorSpec, type ModelsSpec } from '@mei/contracts';
import { motLines } from '../edge-agent/src/cli/track.ts';
import { evaluateMot, parseMot, type MotSummary } from '../tools/src/mot-eval/index.ts';
import { createCameraPipeline, type FrameResult, type StageTimings } from '../edge-agent/src/pipeline/pipeline.ts';

const USAGE = `usage: npm run bench:edge -- [--json] [--sets a,b] [--max-frames N] [--threads N|D,E] [--score S]
       [--input-size WxH] [--reid-input WxH] [--sequential] [--detect-every K] [--detect-interval-ms MS] [--decode-at-input-size]
       [--reduced-input-scale S [--full-every N]] [--peer [--streams N] [--peer-threads N]] [--out <dir>]
  --sets a,b        a = YOLOX-nano + OSNet x0.25 (MEI_MODEL_DIR), b = NanoDet-g (npm) + colour histograms,
                    q = a in int8 (scripts/quantize-models.sh writes it; MEI_MODEL_DIR = its --out),
                    qd = int8 YOLOX-nano + float OSNet, qr = float YOLOX-nano + int8 OSNet
  --max-frames N    first N frames only (metrics against the ground truth of those frames)
  --threads N|D,E   onnxruntime intra-op threads: N shared by detector and ReID network (default 2 = 1+1;
                    all N for the detector in set b), or D for the detector and E for the ReID network
  --score S         detector score threshold (default 0.1, the tracker's low threshold, as mei-agent track)
  --input-size WxH  detector input size (default: the model's, fitted to the 4:3 frame: 416x320)
  --reid-input WxH  ReID crop size (spec.models.reid.inputWidth/inputHeight; default the model's, 128x256)
  --sequential      run the detector on the main thread, in turn with ReID (default: in a worker, ahead)
  --detect-every K  detection cadence: detect at most every K frames, Kalman prediction between, every
                    frame while the scene is busy (default 1)
  --detect-interval-ms MS  detection cadence in time (models.detector.detectIntervalMs; replaces --detect-every)
  --streams N       with --peer: also run N copies of the video at once on each side (MEI: N pipelines of the
                    first set in this process, as an agent runs N cameras; the peer: N processes), unpaced, and
                    print the node's throughput (frames of all copies / wall time) and the ratio
  --peer-threads N  the peer's onnxruntime intra-op threads (default: its own default, all cores, spinning)
  --peer            also run the usual Python pipeline on the same video (OpenCV decode, YOLOX-nano 416x416
                    in onnxruntime, PyPI ByteTrack; no ReID) in a venv made here (MEI_PEER_VENV, default
                    ~/.cache/mei/peer-venv) and print both with the ratio against the first MEI set
  --decode-at-input-size  ffmpeg decodes at the detector's input scale (spec.models.detector.decodeAtInputSize)
  --reduced-input-scale S  two-scale detection (models.detector.reducedInputScale): of every N detected frames
                    (--full-every, default 2) one at the full input size, the others at S times it
  --out <dir>       keep <dir>/<set>.txt (tracks) and <dir>/<set>-det.txt (detections, MOT det format)`;

interface ModelSet {
  key: string;
  label: string;
  models: ModelsSpec;
  needsModelDir: boolean;
}

const SETS: Record<string, ModelSet> = {
  a: {
    key: 'a',
    label: 'YOLOX-nano + OSNet x0.25',
    models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } },
    needsModelDir: true,
  },
  // int8 copies made by scripts/quantize-models.sh (MEI_MODEL_DIR = its --out folder, which links the floats too).
  q: {
    key: 'q',
    label: 'YOLOX-nano int8 + OSNet x0.25 int8',
    models: { detector: { name: 'yolox-nano-int8', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17-int8' } },
    needsModelDir: true,
  },
  qd: {
    key: 'qd',
    label: 'YOLOX-nano int8 + OSNet x0.25',
    models: { detector: { name: 'yolox-nano-int8', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } },
    needsModelDir: true,
  },
  qr: {
    key: 'qr',
    label: 'YOLOX-nano + OSNet x0.25 int8',
    models: { detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17-int8' } },
    needsModelDir: true,
  },
  b: {
    key: 'b',
    label: 'NanoDet-g (npm) + colour histograms',
    models: { detector: { name: 'nanodet-g', decoder: 'nanodet' }, reid: { kind: 'histogram' } },
    needsModelDir: false,
  },
};

function fail(msg: string): never {
  console.error(`bench:edge: ${msg}\n${USAGE}`);
  process.exit(2);
}

function num(v: string | undefined, flag: string, min: number, max: number, integer = false): number | undefined {
  try {
    return numberFlag(v, flag, undefined, min, max, integer);
  } catch (e) {
    return fail((e as Error).message);
  }
}

const round = (x: number, d = 2) => Number(x.toFixed(d));
const load = () => loadavg().map((x) => round(x, 2)) as [number, number, number];

function machine() {
  let ort = 'unknown';
  try {
    ort = JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8')).version;
  } catch {
    // not installed at the root: report unknown
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    onnxruntimeNode: ort,
    platform: `${process.platform}-${process.arch}`,
  };
}

async function runSet(set: ModelSet, o: { dataDir: string; gtText: string; maxFrames?: number; threads?: number; embedderThreads?: number; score: number; inputSize?: [number, number]; reidInput?: [number, number]; sequential: boolean; decodeAtInputSize: boolean; detectEvery?: number; detectIntervalMs?: number; reducedInputScale?: number; fullEvery?: number; outDir?: string }) {
  const detector: DetectorSpec = { ...set.models.detector, scoreThreshold: o.score, ...(o.decodeAtInputSize ? { decodeAtInputSize: true } : {}), ...(o.reducedInputScale ? { reducedInputScale: o.reducedInputScale } : {}), ...(o.fullEvery ? { fullEvery: o.fullEvery } : {}) };
  if (o.inputSize) [detector.inputWidth, detector.inputHeight] = o.inputSize;
  const loadStart = load();
  const t0 = performance.now();
  const pipeline = await createCameraPipeline({
    camera: { source: path.join(o.dataDir, 'vtest.avi') },
    models: { ...set.models, detector, ...(o.reidInput && set.models.reid?.kind === 'onnx' ? { reid: { ...set.models.reid, inputWidth: o.reidInput[0], inputHeight: o.reidInput[1] } } : {}) },
    mode: 'history',
    allFrames: true,
    maxFrames: o.maxFrames,
    threads: o.threads,
    embedderThreads: o.embedderThreads,
    detectorWorker: !o.sequential,
    detectEvery: o.detectEvery,
    detectIntervalMs: o.detectIntervalMs,
  });
  const setupMs = performance.now() - t0;
  // name@WxH: the input size the detector runs at (fitted to the frame unless --input-size).
  const detectorName = pipeline.detector.name;
  const threads = pipeline.threads;
  let res = '';
  let dets = '';
  const childCpu0 = childCpuMs();
  let summary;
  try {
    summary = await pipeline.run((r: FrameResult) => {
      res += motLines(r);
      for (const d of r.detections) dets += `${r.frameIndex + 1},-1,${d.x.toFixed(2)},${d.y.toFixed(2)},${d.w.toFixed(2)},${d.h.toFixed(2)},${d.score.toFixed(4)},-1,-1,-1\n`;
    });
  } finally {
    await pipeline.dispose();
  }
  const childCpu1 = childCpuMs();
  const loadEnd = load();
  if (o.outDir) {
    writeFileSync(path.join(o.outDir, `${set.key}.txt`), res);
    writeFileSync(path.join(o.outDir, `${set.key}-det.txt`), dets);
  }
  const s: MotSummary = evaluateMot(parseMot(o.gtText, { kind: 'gt', source: 'PETS09-S2L1/gt/gt.txt' }), parseMot(res, { kind: 'res', source: `${set.key}.txt` })).summary;
  const ms = (k: keyof StageTimings) => round(summary.meanMs[k]);
  const frames = summary.frames;
  return {
    set: set.key,
    label: set.label,
    detector: detectorName,
    reid: set.models.reid?.kind === 'onnx' ? `${set.models.reid.name}${o.reidInput ? `@${o.reidInput.join('x')}` : ''}` : 'histogram',
    scoreThreshold: o.score,
    // The pipeline splits --threads between two ONNX networks running at once (pipelineThreads).
    threads: { detector: threads.detector, embedder: set.models.reid?.kind === 'onnx' ? threads.embedder : null },
    detectAhead: summary.detectAhead,
    detectEvery: o.detectEvery ?? withDefaults('models.detector').detectEvery,
    detectIntervalMs: o.detectIntervalMs ?? withDefaults('models.detector').detectIntervalMs,
    decodeSize: pipeline.decodeSize ?? null,
    detectedFrames: summary.detectedFrames,
    reducedFrames: summary.reducedFrames,
    embeddedBoxes: summary.embeddedBoxes,
    frames,
    setupMs: Math.round(setupMs),
    msPerFrame: {
      // ffmpeg decodes in its own process, in parallel: its CPU time per frame (Linux /proc, else null).
      decodeCpu: childCpu0 !== undefined && childCpu1 !== undefined && frames ? round((childCpu1 - childCpu0) / frames) : null,
      source: ms('sourceMs'),
      detect: ms('detectMs'),
      detectWait: ms('detectWaitMs'),
      embed: ms('embedMs'),
      track: ms('trackMs'),
      total: ms('totalMs'),
    },
    fps: round(summary.fps),
    cpuMsPerFrame: round(summary.cpuMsPerFrame, 1),
    metrics: {
      mota: round(s.mota, 4),
      idf1: round(s.idf1, 4),
      hota: round(s.hota, 4),
      motp: round(s.motp, 4),
      recall: round(s.recall, 4),
      precision: round(s.precision, 4),
    },
    counts: { gt: s.numGt, tp: s.tp, fp: s.fp, fn: s.fn, idsw: s.idsw, gtIds: s.numGtIds, predIds: s.numPredIds },
    loadAverage: { start: loadStart, end: loadEnd },
  };
}

/** The peer's PyPI packages, pinned (its onnxruntime is the version onnxruntime-node wraps). */
const PEER_PACKAGES = ['onnxruntime==1.23.2', 'opencv-python-headless==5.1.0.95', 'cjm-byte-track==0.0.6', 'numpy==2.4.6', 'scipy==1.17.1'];

/** The peer's venv python (the venv is created on first use); scripts/peer/peer_pipeline.py runs in it. */
function peerPython(): string {
  const venv = process.env.MEI_PEER_VENV ?? path.join(homedir(), '.cache/mei/peer-venv');
  const python = path.join(venv, 'bin/python');
  const ready = () => {
    try {
      execFileSync(python, ['-c', 'import cv2, onnxruntime, cjm_byte_track'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!existsSync(python) || !ready()) {
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(path.join(venv, 'bin/pip'), ['install', '--quiet', ...PEER_PACKAGES], { stdio: 'inherit' });
  }
  return python;
}

interface PeerRun {
  frames: number;
  wallSeconds: number;
  cpuSeconds: number;
  threads: number;
  out: string;
}

/** One run of the peer's frame loop on the video (its own process). */
async function peerProcess(python: string, o: { dataDir: string; maxFrames?: number; threads?: number }): Promise<PeerRun> {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mei-peer-')), 'peer.txt');
  const script = fileURLToPath(new URL('./peer/peer_pipeline.py', import.meta.url));
  const model = path.join(process.env.MEI_MODEL_DIR!, 'yolox_nano.onnx');
  const { stdout } = await promisify(execFile)(python, [script, model, path.join(o.dataDir, 'vtest.avi'), out, ...(o.maxFrames ? ['--max-frames', String(o.maxFrames)] : []), ...(o.threads ? ['--threads', String(o.threads)] : [])], { encoding: 'utf8' });
  return { ...(JSON.parse(stdout.trim().split('\n').pop()!) as Omit<PeerRun, 'out'>), out };
}

async function runPeer(o: { dataDir: string; gtText: string; maxFrames?: number; threads?: number }) {
  const python = peerPython();
  const loadStart = load();
  const childCpu0 = childCpuMs();
  const r = await peerProcess(python, o);
  const out = r.out;
  const childCpu1 = childCpuMs();
  const s = evaluateMot(parseMot(o.gtText, { kind: 'gt', source: 'PETS09-S2L1/gt/gt.txt' }), parseMot(readFileSync(out, 'utf8'), { kind: 'res', source: 'peer.txt' })).summary;
  return {
    label: 'Python: OpenCV decode + YOLOX-nano 416x416 (onnxruntime) + ByteTrack (cjm-byte-track), no ReID',
    packages: PEER_PACKAGES,
    frames: r.frames,
    fps: round(r.frames / r.wallSeconds),
    // The frame loop's CPU (decode, network, tracker; all threads of the process), without start-up.
    cpuMsPerFrame: round((1000 * r.cpuSeconds) / r.frames, 1),
    // With start-up (imports, session creation), from the child's rusage.
    cpuMsPerFrameWithStartup: childCpu0 !== undefined && childCpu1 !== undefined ? round((childCpu1 - childCpu0) / r.frames, 1) : null,
    onnxruntimeThreads: r.threads,
    metrics: { mota: round(s.mota, 4), idf1: round(s.idf1, 4), hota: round(s.hota, 4), motp: round(s.motp, 4), recall: round(s.recall, 4), precision: round(s.precision, 4) },
    counts: { gt: s.numGt, tp: s.tp, fp: s.fp, fn: s.fn, idsw: s.idsw, gtIds: s.numGtIds, predIds: s.numPredIds },
    loadAverage: { start: loadStart, end: load() },
  };
}

/**
 * A node's throughput with `n` copies of the video at once, unpaced: MEI runs n pipelines of `models` in this
 * process (as an agent runs n cameras), the peer n processes. Frames of all copies / wall time, and CPU per
 * frame (this process or the peers, plus decoders); accuracy is the single runs'.
 */
async function runStreams(n: number, models: ModelsSpec, o: { dataDir: string; maxFrames?: number; withPeer: boolean; peerThreads?: number }) {
  const loadStart = load();
  const pipelines = await Promise.all(
    Array.from({ length: n }, () =>
      createCameraPipeline({ camera: { source: path.join(o.dataDir, 'vtest.avi') }, models, mode: 'history', allFrames: true, maxFrames: o.maxFrames }),
    ),
  );
  // Model loading is not the throughput: count from here (ffmpeg starts with the first read).
  const child0 = childCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let frames = 0;
  try {
    const summaries = await Promise.all(pipelines.map((p) => p.run()));
    frames = summaries.reduce((s, x) => s + x.frames, 0);
  } finally {
    await Promise.all(pipelines.map((p) => p.dispose()));
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const child1 = childCpuMs();
  const decoders = child0 !== undefined && child1 !== undefined ? child1 - child0 : 0;
  const mei = { streams: n, frames, wallSeconds: round(wall, 1), fps: round(frames / wall), cpuMsPerFrame: round(((cpu.user + cpu.system) / 1000 + decoders) / frames, 1), loadAverage: { start: loadStart, end: load() } };
  if (!o.withPeer) return { mei };
  const python = peerPython();
  const peerLoad = load();
  const p0 = performance.now();
  const runs = await Promise.all(Array.from({ length: n }, () => peerProcess(python, { ...o, threads: o.peerThreads })));
  const peerWall = (performance.now() - p0) / 1000;
  const peerFrames = runs.reduce((s, r) => s + r.frames, 0);
  const peer = { streams: n, frames: peerFrames, wallSeconds: round(peerWall, 1), fps: round(peerFrames / peerWall), cpuMsPerFrame: round((1000 * runs.reduce((s, r) => s + r.cpuSeconds, 0)) / peerFrames, 1), loadAverage: { start: peerLoad, end: load() } };
  return { mei, peer, fpsRatio: round(mei.fps / peer.fps) };
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        sets: { type: 'string', default: 'a,b' },
        'max-frames': { type: 'string' },
        threads: { type: 'string' },
        score: { type: 'string' },
        'input-size': { type: 'string' },
        'reid-input': { type: 'string' },
        sequential: { type: 'boolean', default: false },
        'detect-every': { type: 'string' },
        'detect-interval-ms': { type: 'string' },
        'decode-at-input-size': { type: 'boolean', default: false },
        'reduced-input-scale': { type: 'string' },
        'full-every': { type: 'string' },
        peer: { type: 'boolean', default: false },
        streams: { type: 'string' },
        'peer-threads': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const keys = values.sets.split(',').map((k) => k.trim());
  for (const k of keys) if (!SETS[k]) fail(`--sets: unknown model set '${k}' (known: ${Object.keys(SETS).join(', ')})`);
  const maxFrames = num(values['max-frames'], '--max-frames', 1, 1e6, true);
  const [threads, embedderThreads] = (values.threads ?? '').split(',').filter(Boolean).map((t) => num(t, '--threads', 1, 64, true)!);
  const score = num(values.score, '--score', 0, 1) ?? 0.1;
  const size = (flag: string, v: string | undefined, eg: string): [number, number] | undefined => {
    if (v === undefined) return undefined;
    const m = /^(\d+)x(\d+)$/.exec(v);
    return m ? [Number(m[1]), Number(m[2])] : fail(`${flag} must look like ${eg}, got '${v}'`);
  };
  const inputSize = size('--input-size', values['input-size'], '416x320');
  const reidInput = size('--reid-input', values['reid-input'], '96x192');
  const dataDir = process.env.MEI_DATA_DIR;
  if (!dataDir) fail('set MEI_DATA_DIR to the folder with vtest.avi and PETS09-S2L1/gt/gt.txt');
  if (keys.some((k) => SETS[k].needsModelDir) && !process.env.MEI_MODEL_DIR) fail('set MEI_MODEL_DIR (model set a reads yolox_nano.onnx and osnet_x0_25_msmt17.onnx from it)');
  let gtText = readFileSync(path.join(dataDir, 'PETS09-S2L1/gt/gt.txt'), 'utf8');
  if (maxFrames !== undefined) gtText = gtText.split('\n').filter((l) => l && Number(l.split(',')[0]) <= maxFrames).join('\n');
  if (values.out) mkdirSync(values.out, { recursive: true });

  const report = {
    benchmark: 'edge pipeline, PETS09-S2L1',
    date: new Date().toISOString(),
    command: `npm run bench:edge -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    loadAverageStart: load(),
    sets: [] as Array<Awaited<ReturnType<typeof runSet>>>,
    loadAverageEnd: [0, 0, 0] as [number, number, number],
  };
  const reducedScale = num(values['reduced-input-scale'], '--reduced-input-scale', 0, 0.95);
  const fullEvery = num(values['full-every'], '--full-every', 2, 10, true);
  for (const k of keys) {
    report.sets.push(await runSet(SETS[k], { dataDir, gtText, maxFrames, threads, embedderThreads, score, inputSize, reidInput, sequential: values.sequential, decodeAtInputSize: values['decode-at-input-size'], detectEvery: num(values['detect-every'], '--detect-every', 1, 100, true), detectIntervalMs: num(values['detect-interval-ms'], '--detect-interval-ms', 0, 2000, true), reducedInputScale: reducedScale, fullEvery, outDir: values.out }));
  }
  const peerThreads = num(values['peer-threads'], '--peer-threads', 1, 64, true);
  const peer = values.peer ? await runPeer({ dataDir, gtText, maxFrames, threads: peerThreads }) : undefined;
  const first = report.sets[0];
  // MEI's CPU per frame includes its ffmpeg decoder (another process); the peer decodes in its own process.
  const meiCpu = first ? first.cpuMsPerFrame + (first.msPerFrame.decodeCpu ?? 0) : 0;
  const comparison = peer && first ? { set: first.set, fpsRatio: round(first.fps / peer.fps), cpuPerFrameRatio: round(peer.cpuMsPerFrame / meiCpu), meiCpuMsPerFrameWithDecode: round(meiCpu, 1) } : undefined;
  Object.assign(report, peer ? { peer, comparison } : {});
  const streams = num(values.streams, '--streams', 1, 16, true);
  if (streams !== undefined && first) {
    const k = keys[0];
    const detector: DetectorSpec = { ...SETS[k].models.detector, scoreThreshold: score, ...(reducedScale ? { reducedInputScale: reducedScale } : {}), ...(fullEvery ? { fullEvery } : {}) };
    const reid = SETS[k].models.reid?.kind === 'onnx' && reidInput ? { ...SETS[k].models.reid, inputWidth: reidInput[0], inputHeight: reidInput[1] } : SETS[k].models.reid;
    Object.assign(report, { node: await runStreams(streams, { ...SETS[k].models, detector, reid }, { dataDir, maxFrames, withPeer: values.peer, peerThreads }) });
  }
  report.loadAverageEnd = load();
  if (values.json) {
    console.log(JSON.stringify(report));
    return;
  }
  const m = report.machine;
  console.log(`${report.benchmark} - ${report.date}`);
  console.log(`${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}`);
  console.log(`load average (1/5/15 min) at start ${report.loadAverageStart.join(' ')}, at end ${report.loadAverageEnd.join(' ')}`);
  const pct = (x: number) => (100 * x).toFixed(1);
  // One column per model set.
  const line = (f: (r: (typeof report.sets)[number]) => string | number | null) => Object.fromEntries(report.sets.map((r) => [`${r.set}: ${r.label}`, f(r) ?? '-']));
  console.table({
    frames: line((r) => r.frames),
    'decode CPU ms/frame (ffmpeg)': line((r) => r.msPerFrame.decodeCpu),
    'source wait ms/frame': line((r) => r.msPerFrame.source),
    'detect ms/frame': line((r) => r.msPerFrame.detect),
    'detect wait ms/frame': line((r) => r.msPerFrame.detectWait),
    'embed ms/frame': line((r) => r.msPerFrame.embed),
    'track ms/frame': line((r) => r.msPerFrame.track),
    'end-to-end fps': line((r) => r.fps),
    'CPU ms/frame': line((r) => r.cpuMsPerFrame),
    'MOTA %': line((r) => pct(r.metrics.mota)),
    'IDF1 %': line((r) => pct(r.metrics.idf1)),
    'HOTA %': line((r) => pct(r.metrics.hota)),
    detector: line((r) => r.detector),
    'threads det(+reid), mode': line((r) => `${r.threads.detector}${r.threads.embedder ? `+${r.threads.embedder}` : ''}, ${r.detectAhead ? 'worker, ahead' : 'in turn'}`),
    'load 1 min start -> end': line((r) => `${r.loadAverage.start[0]} -> ${r.loadAverage.end[0]}`),
  });
  if (peer && comparison) {
    console.log(`peer (${peer.label}): ${peer.fps} fps, ${peer.cpuMsPerFrame} CPU ms/frame, MOTA ${pct(peer.metrics.mota)} IDF1 ${pct(peer.metrics.idf1)} HOTA ${pct(peer.metrics.hota)}`);
    console.log(`MEI set ${comparison.set} / peer: fps x${comparison.fpsRatio}, CPU per frame peer/MEI x${comparison.cpuPerFrameRatio} (MEI incl. ffmpeg ${comparison.meiCpuMsPerFrameWithDecode} ms)`);
  }
  const node = (report as { node?: Awaited<ReturnType<typeof runStreams>> }).node;
  if (node) {
    const side = (name: string, r: { streams: number; fps: number; cpuMsPerFrame: number }) => `${name}: ${r.streams} copies at once, ${r.fps} frames/s in all, ${r.cpuMsPerFrame} CPU ms/frame`;
    console.log(side('node, MEI', node.mei));
    if (node.peer) console.log(`${side('node, peer', node.peer)}; MEI / peer x${node.fpsRatio}`);
  }
}

await main();
