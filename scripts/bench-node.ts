// Node capacity benchmark (issue #16): N live cameras on ONE agent process, through the agent's own camera
// runner (PipelineCameraRunner: media policy, pipeline, observation batches), each paced like a live camera
// at --fps (vtest.avi plays at 10 fps: ffmpeg replays it at fps/10 of its rate; a camera that falls behind drops
// frames, as live cameras do). Cameras cycle through the full frame and the regions of a split
// (default scripts/splits/pets-two-cameras.json): full, left, right, full, left, ...
// Prints per camera: achieved fps, dropped frames, MOTA / IDF1 / HOTA against the ground truth cut the same
// way (a dropped frame has no output: its people count as misses); for the node: CPU ms per camera-frame
// (agent process, all threads, + its ffmpeg decoders), CPU use of the node, load average.
//
//   npm run bench:node -- [--json] [--cameras N[,N...]] [--fps F] [--max-frames F] [--split FILE]
//                         [--detect-every K] [--detect-interval-ms MS] [--cadence-on-load] [--decode-at-input-size] [--detector NAME] [--reid NAME|histogram|none] [--threads T] [--slots S]
//                         [--reduced-input-scale S [--full-every N]]
//                         [--floor-fps F] [--share-reid]
// Needs MEI_DATA_DIR (vtest.avi, PETS09-S2L1/gt/gt.txt) and MEI_MODEL_DIR (default: ../shared beside the repo).
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { applyTaskDefaults, withDefaults, type CameraSpec, type ModelsSpec, type ObservationBatch } from '@mei/contracts';
import { pipelineRunnerFactory } from '../edge-agent/src/agent/pipeline-runner.ts';
import { SharedEmbedders } from '../edge-agent/src/agent/shared-embedder.ts';
import { findFfmpeg, inputArgs, probeVideo } from '../edge-agent/src/sources/ffmpeg.ts';
import { parseSource } from '../edge-agent/src/sources/uri.ts';
import { evaluateMot, formatMotRows, parseMot, readMotFile, type MotBox, type MotRow } from '../tools/src/mot-eval/index.ts';
import { FlagError, numberFlag, runBench } from './bench-args.ts';
import { childCpuMs } from './bench-cpu.ts';
import { DEFAULT_SPLIT, loadSplit, splitGroundTruth, type CameraRegion } from './mtmc/split-gt.ts';

const USAGE = `usage: npm run bench:node -- [--json] [--cameras N[,N...]] [--fps F] [--max-frames F] [--split FILE]
       [--detect-every K] [--detect-interval-ms MS] [--cadence-on-load] [--decode-at-input-size] [--detector NAME] [--reid NAME|histogram|none] [--threads T]
       [--reduced-input-scale S [--full-every N]]
  --cameras N,...   cameras on the one agent, one run per value (default 1)
  --fps F           each camera's rate (default 10; vtest.avi's own rate is 10 fps, replayed F/10 times faster)
  --max-frames F    first F frames of the video per camera (default all 795)
  --split FILE      regions for the virtual cameras (default scripts/splits/pets-two-cameras.json)
  --detect-every K  spec.models.detector.detectEvery (default: the CRD's, 1)
  --detect-interval-ms MS  spec.models.detector.detectIntervalMs: a cadence in time (replaces --detect-every)
  --cadence-on-load spec.models.detector.cadenceOnLoad: detectEvery only while a camera drops frames
  --decode-at-input-size  spec.models.detector.decodeAtInputSize (ffmpeg decodes at the detector's scale)
  --reduced-input-scale S  spec.models.detector.reducedInputScale: two-scale detection (--full-every N: fullEvery)
  --detector NAME   registry detector (default yolox-nano)
  --reid NAME       registry ReID network, or histogram, or none (default osnet-x0.25-msmt17)
  --threads T       spec.workers[].threads (default: the CRD's, 2)
  --slots S         spec.workers[].inferenceSlots: the node's inference budget (default: the CRD's, 0 = none)
  --floor-fps F     spec.workers[].floorFps: the rate each camera keeps under overload (default: the CRD's, 2)
  --share-reid      spec.workers[].shareReid: one batched ReID network for all cameras`;

const FRAME = { width: 768, height: 576 };
const VIDEO_FRAMES = 795;
/** A camera holds its rate when it processes at least this share of its frames (drops at most 2 %). */
const HOLD_SHARE = 0.98;

const round = (x: number, d = 2) => Number(x.toFixed(d));
const load = () => loadavg().map((x) => round(x)) as [number, number, number];
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface CameraPlan {
  name: string;
  region?: CameraRegion;
  gt: MotBox[];
}

/** Camera k: the full frame when k % (regions + 1) == 0, else region k % (regions + 1) - 1. */
export function planCameras(n: number, regions: readonly CameraRegion[], gtRows: readonly MotRow[]): CameraPlan[] {
  const perRegion = splitGroundTruth(gtRows, regions);
  return Array.from({ length: n }, (_, k) => {
    const slot = k % (regions.length + 1);
    const region = slot === 0 ? undefined : regions[slot - 1];
    return { name: `cam-${k}-${region?.name ?? 'full'}`, region, gt: region ? perRegion.get(region.name)! : [...gtRows] };
  });
}

interface CameraResult {
  name: string;
  view: string;
  framesProcessed: number;
  framesDropped: number;
  fps: number;
  mota: number;
  idf1: number;
  hota: number;
  idsw: number;
  /** Share of the 1 s status samples in which the camera reported belowFloor (status.cameras[].belowFloor). */
  belowFloorShare: number;
}

async function runNode(n: number, o: { nativeFps: number; fps: number; maxFrames: number; regions: CameraRegion[]; gtRows: MotRow[]; models: ModelsSpec; threads?: number; slots?: number; floorFps?: number; shareReid: boolean; dataDir: string }) {
  const plans = planCameras(n, o.regions, o.gtRows);
  const cameras: CameraSpec[] = plans.map((p) => ({
    name: p.name,
    node: 'edge-1',
    source: path.join(o.dataDir, 'vtest.avi'),
    fps: o.fps,
    ...(p.region ? { roi: { x: p.region.x, y: p.region.y, width: p.region.w, height: p.region.h } } : {}),
  }));
  const task = applyTaskDefaults({ jobKey: 'bench/node', uid: 'bench', generation: 1, node: 'edge-1', mode: 'live', cameras, models: o.models, ...(o.threads ? { threads: o.threads } : {}), ...(o.slots ? { inferenceSlots: o.slots } : {}), ...(o.floorFps !== undefined ? { floorFps: o.floorFps } : {}), ...(o.shareReid ? { shareReid: true } : {}) });
  const sharedReid = new SharedEmbedders();
  const factory = pipelineRunnerFactory(process.env, { maxFrames: o.maxFrames, readRate: o.fps / o.nativeFps, sharedReid });
  const rows = new Map<string, MotBox[]>(plans.map((p) => [p.name, []]));
  const seen = new Map<string, { first: number; last: number; frames: number; maxIndex: number }>();
  const finished = new Map<string, () => void>();
  const done = plans.map((p) => new Promise<void>((r) => finished.set(p.name, r)));
  const loadStart = load();
  const runners = task.cameras.map((camera) => {
    const runner = factory({
      task,
      camera,
      onChange: () => {
        const s = runner.report();
        if (s.state === 'Completed' || s.state === 'Failed') finished.get(camera.name)!();
      },
      emitObservations: (b: Omit<ObservationBatch, 'jobKey' | 'seq' | 'session'>) => {
        const list = rows.get(b.camera)!;
        const now = performance.now();
        for (const f of b.frames) {
          const s = seen.get(b.camera) ?? { first: now, last: now, frames: 0, maxIndex: -1 };
          s.last = now;
          s.frames++;
          s.maxIndex = Math.max(s.maxIndex, f.frameIndex);
          seen.set(b.camera, s);
          for (const t of f.tracks) if (t.state === 'confirmed') list.push({ frame: f.frameIndex + 1, id: t.id, x: t.x, y: t.y, w: t.w, h: t.h, conf: t.score });
        }
      },
      observationBacklog: () => 0,
      privacy: () => task.privacy,
      emitPreview: () => {},
      thumbnailSlots: () => 0,
      emitThumbnail: () => {},
      log: (m: string) => console.error(`${camera.name}: ${m}`),
    });
    return runner;
  });
  await Promise.all(runners.map((r) => r.start()));
  // CPU is counted from here: model loading and the source probes are behind (their frames are not counted).
  const c0 = cpuMs();
  const k0 = childCpuMs() ?? 0;
  const t0 = performance.now();
  const before = [...seen.values()].reduce((a, s) => a + s.frames, 0);
  // What status.cameras[] would say, sampled each second.
  const below = new Map<string, number>();
  let samples = 0;
  const sampler = setInterval(() => {
    samples++;
    for (const r of runners) if (r.report().belowFloor) below.set(r.camera, (below.get(r.camera) ?? 0) + 1);
  }, 1000);
  await Promise.all(done);
  clearInterval(sampler);
  const reports = runners.map((r) => r.report());
  await Promise.all(runners.map((r) => r.stop()));
  const wallMs = performance.now() - t0;
  const agentCpu = cpuMs() - c0;
  // The decoders have exited (their sources completed) and been reaped by now.
  const decoderCpu = (childCpuMs() ?? 0) - k0;
  const loadEnd = load();
  const failed = reports.filter((r) => r.state === 'Failed');
  if (failed.length) throw new Error(`cameras failed: ${failed.map((r) => `${r.name}: ${r.message}`).join('; ')}`);

  const perCamera: CameraResult[] = plans.map((p) => {
    const s = seen.get(p.name) ?? { first: 0, last: 0, frames: 0, maxIndex: -1 };
    const gtText = formatMotRows(p.gt.filter((r) => r.frame <= o.maxFrames), 'mot16-gt');
    const res = formatMotRows(rows.get(p.name)!);
    const m = evaluateMot(parseMot(gtText, { kind: 'gt', source: `${p.name}.gt` }), parseMot(res, { kind: 'res', source: `${p.name}.txt` })).summary;
    return {
      name: p.name,
      view: p.region?.name ?? 'full',
      framesProcessed: s.frames,
      // Frames the decoder delivered that the pipeline never took (live sources drop the oldest).
      framesDropped: o.maxFrames - s.frames,
      fps: s.frames > 1 ? round(((s.frames - 1) * 1000) / (s.last - s.first)) : 0,
      mota: round(100 * m.mota, 1),
      idf1: round(100 * m.idf1, 1),
      hota: round(100 * m.hota, 1),
      idsw: m.idsw,
      belowFloorShare: round((below.get(p.name) ?? 0) / Math.max(1, samples), 3),
    };
  });
  const processed = perCamera.reduce((a, c) => a + c.framesProcessed, 0) - before;
  const views = [...new Set(perCamera.map((c) => c.view))];
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), 1);
  return {
    cameras: n,
    fpsTarget: o.fps,
    // Video seconds the cameras were meant to take; wallSeconds above it means the sources were held back.
    videoSeconds: round(o.maxFrames / o.fps, 1),
    framesPerCamera: o.maxFrames,
    // A file source waits when the agent does not read its pipe (a real camera would not): the rate counts too.
    holds: perCamera.every((c) => c.framesProcessed >= HOLD_SHARE * o.maxFrames && c.fps >= HOLD_SHARE * o.fps),
    wallSeconds: round(wallMs / 1000, 1),
    cpuMsPerCameraFrame: round((agentCpu + decoderCpu) / Math.max(1, processed), 1),
    agentCpuMsPerCameraFrame: round(agentCpu / Math.max(1, processed), 1),
    decoderCpuMsPerCameraFrame: round(decoderCpu / Math.max(1, processed), 1),
    // Share of the node's cores the agent and its decoders used over the run.
    nodeCpuShare: round((agentCpu + decoderCpu) / wallMs / availableParallelism(), 3),
    droppedShare: round(perCamera.reduce((a, c) => a + c.framesDropped, 0) / (n * o.maxFrames), 3),
    meanFps: mean(perCamera.map((c) => c.fps)),
    minFps: Math.min(...perCamera.map((c) => c.fps)),
    // spec.workers[].shareReid: batched runs of the one network and crops per run.
    ...(o.shareReid ? { sharedReid: { ...sharedReid.stats(), cropsPerRun: round(sharedReid.stats().crops / Math.max(1, sharedReid.stats().runs)) } } : {}),
    accuracyByView: Object.fromEntries(
      views.map((v) => {
        const cs = perCamera.filter((c) => c.view === v);
        return [v, { cameras: cs.length, mota: mean(cs.map((c) => c.mota)), idf1: mean(cs.map((c) => c.idf1)), hota: mean(cs.map((c) => c.hota)) }];
      }),
    ),
    perCamera,
    loadAverage: { start: loadStart, end: loadEnd },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      cameras: { type: 'string', default: '1' },
      fps: { type: 'string' },
      'max-frames': { type: 'string' },
      split: { type: 'string' },
      'detect-every': { type: 'string' },
      'detect-interval-ms': { type: 'string' },
      'decode-at-input-size': { type: 'boolean', default: false },
      'reduced-input-scale': { type: 'string' },
      'full-every': { type: 'string' },
      'cadence-on-load': { type: 'boolean', default: false },
      slots: { type: 'string' },
      detector: { type: 'string', default: 'yolox-nano' },
      reid: { type: 'string', default: 'osnet-x0.25-msmt17' },
      threads: { type: 'string' },
      'floor-fps': { type: 'string' },
      'share-reid': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const counts = values.cameras.split(',').map((c) => numberFlag(c.trim(), '--cameras', 1, 1, 64, true));
  const fps = numberFlag(values.fps, '--fps', 10, 0.5, 60);
  const maxFrames = numberFlag(values['max-frames'], '--max-frames', VIDEO_FRAMES, 10, VIDEO_FRAMES, true);
  const detectEvery = numberFlag(values['detect-every'], '--detect-every', undefined, 1, 10, true);
  const detectIntervalMs = numberFlag(values['detect-interval-ms'], '--detect-interval-ms', undefined, 0, 2000, true);
  const reducedInputScale = numberFlag(values['reduced-input-scale'], '--reduced-input-scale', undefined, 0, 0.95);
  const fullEvery = numberFlag(values['full-every'], '--full-every', undefined, 2, 10, true);
  const threads = numberFlag(values.threads, '--threads', undefined, 1, 64, true);
  const slots = numberFlag(values.slots, '--slots', undefined, 1, 64, true);
  const floorFps = numberFlag(values['floor-fps'], '--floor-fps', undefined, 0, 120);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  process.env.MEI_DATA_DIR ??= path.resolve(root, '../shared/data');
  process.env.MEI_MODEL_DIR ??= path.resolve(root, '../shared/models');
  const dataDir = process.env.MEI_DATA_DIR;
  let regions: CameraRegion[];
  try {
    regions = loadSplit(values.split ?? DEFAULT_SPLIT, FRAME);
  } catch (e) {
    throw new FlagError(`--split: ${(e as Error).message}`);
  }
  const decoder = values.detector.startsWith('nanodet') ? 'nanodet' : 'yolox';
  const reid: ModelsSpec['reid'] = values.reid === 'none' ? undefined : values.reid === 'histogram' ? { kind: 'histogram' } : { kind: 'onnx', name: values.reid };
  const models: ModelsSpec = {
    // The CRD's default score threshold; detectEvery only when given (absent = the pipeline's default).
    detector: { name: values.detector, decoder, scoreThreshold: withDefaults('models.detector').scoreThreshold, ...(detectEvery ? { detectEvery } : {}), ...(detectIntervalMs ? { detectIntervalMs } : {}), ...(values['decode-at-input-size'] ? { decodeAtInputSize: true } : {}), ...(values['cadence-on-load'] ? { cadenceOnLoad: true } : {}), ...(reducedInputScale ? { reducedInputScale } : {}), ...(fullEvery ? { fullEvery } : {}) },
    ...(reid ? { reid } : {}),
  };
  const ffmpeg = findFfmpeg();
  const nativeFps = (await probeVideo(ffmpeg, inputArgs(parseSource(path.join(dataDir, 'vtest.avi')), { realtime: false, loop: false }))).fps ?? 10; // crd-default-ok: a guess at the file's rate, not camera fps
  const gtRows = readMotFile(path.join(dataDir, 'PETS09-S2L1/gt/gt.txt'), { kind: 'gt' }).rows.filter((r) => r.frame <= maxFrames);
  const report = {
    benchmark: 'node capacity: N live cameras on one agent (PETS09-S2L1)',
    date: new Date().toISOString(),
    command: `npm run bench:node -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cpuModel: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
    models,
    threads: threads ?? withDefaults('workers[]').threads,
    inferenceSlots: slots ?? withDefaults('workers[]').inferenceSlots,
    floorFps: floorFps ?? withDefaults('workers[]').floorFps,
    shareReid: values['share-reid'],
    holdRule: `every camera processes >= ${HOLD_SHARE * 100} % of its frames at >= ${HOLD_SHARE * 100} % of --fps`,
    runs: [] as Array<Awaited<ReturnType<typeof runNode>>>,
  };
  for (const n of counts) {
    const r = await runNode(n, { nativeFps, fps, maxFrames, regions, gtRows, models, threads, slots, floorFps, shareReid: values['share-reid'], dataDir });
    report.runs.push(r);
    // Each run as it ends (stderr), so a long series keeps what it measured if stopped.
    if (values.json) console.error(JSON.stringify(r));
    if (!values.json) {
      console.log(`\n${n} cameras at ${fps} fps: holds=${r.holds} CPU ms/camera-frame ${r.cpuMsPerCameraFrame} (agent ${r.agentCpuMsPerCameraFrame} + ffmpeg ${r.decoderCpuMsPerCameraFrame}), node CPU ${(100 * r.nodeCpuShare).toFixed(1)} %, dropped ${(100 * r.droppedShare).toFixed(1)} %, load ${r.loadAverage.start[0]} -> ${r.loadAverage.end[0]}`);
      console.table(r.perCamera);
    }
  }
  if (values.json) console.log(JSON.stringify(report));
  else {
    const holding = report.runs.filter((r) => r.holds).map((r) => r.cameras);
    console.log(`largest N holding ${fps} fps: ${holding.length ? Math.max(...holding) : 'none'}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) runBench(main, USAGE);
