// Multi-camera tracking benchmark: PETS09-S2L1 cut into virtual cameras (regions of the frame, one edge
// pipeline per camera with spec.cameras[].roi), joined into global identities by the cloud identity service.
//
//   npm run bench:mtmc -- [--json] [--split <file.json>] [--out <dir>] [--detector yolox|nanodet]
//                         [--max-frames N] [--threshold D] [--max-gap S] [--threads N]
//                         [--record <file.jsonl>] [--replay <file.jsonl>]
//                         [embedding rule and --record-frames/--replay-frames: see camera-batches.ts CADENCE_USAGE]
// --record/--replay separate the vision cost (minutes) from the identity service (milliseconds), so the
// identity settings can be compared on identical observations.
//
// Ground truth is cut the same way (scripts/mtmc/split-gt.ts). Writes <out>/<camera>.txt (MOTChallenge,
// 1-based frames, boxes in the camera's pixels, ids = numeric global identities) and prints:
//  - cross-camera IDF1: one IDF1 over every camera's boxes with global ids (cameras concatenated with
//    disjoint frame ranges), for the final identities (after every merge/split: what history mode
//    stores) and the online ones (what a live view showed at that frame);
//  - the same with camera-local track ids (no identity service) as a baseline;
//  - per-camera MOTA / IDF1; identities found vs ground-truth identities.
// Cameras run concurrently, so batches reach the identity service interleaved as from separate agents.
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchFlags, numberFlag } from './bench-args.ts';
import type { CameraSpec, DetectorSpec, ObservationBatch, TrackObservation } from '@mei/contracts';
import { evaluateMot, readMotFile, type MotBox, type MotFile, type MotSummary } from '../tools/src/mot-eval/index.ts';
import { iou } from '@mei/vision/geometry';
import { createIdentityService } from '../server/identity/index.ts';
import { DEMO_CROSS_CAMERA } from '../server/demo-job.ts';
import { CADENCE_FLAGS, CADENCE_USAGE, cadenceFromFlags, frameLine, readFrameLines, replayCameraFrames, runCamerasInVideoTimeOrder } from './mtmc/camera-batches.ts';
import { concatCameras, DEFAULT_SPLIT, loadSplit, regionOverlaps, splitGroundTruth } from './mtmc/split-gt.ts';

const USAGE = `usage: npm run bench:mtmc -- [--json] [--split <file.json>] [--out <dir>] [--detector yolox|nanodet]
       [--max-frames N] [--threshold D (0.2)] [--max-gap S (2)] [--threads N (1)]
       [--reid NAME (osnet-x0.25-msmt17)] [--reid-input WxH] [--reduced-input-scale S]   the edge's model settings
       [--record <file.jsonl>]   also save the cameras' observation batches (arrival order)
       [--replay <file.jsonl>]   skip the vision pipelines: feed saved batches to the identity service
${CADENCE_USAGE}`;
const DETECTORS: Record<string, DetectorSpec> = {
  yolox: { name: 'yolox-nano', decoder: 'yolox' },
  nanodet: { name: 'nanodet-m', decoder: 'nanodet' },
};
const FRAME = { width: 768, height: 576 };
const VIDEO_FRAMES = 795;
/**
 * spec.crossCamera for this layout: the demo job's (same video, same split). Overlapping views hand people
 * over at once, so a short hand-off gap; chosen on this sequence (see docs/benchmarks.md for the
 * sensitivity); the CRD defaults are --threshold 0.2 --max-gap 10.
 */
const DEFAULT_THRESHOLD = DEMO_CROSS_CAMERA.matchThreshold;
const DEFAULT_MAX_GAP_S = DEMO_CROSS_CAMERA.maxGapSeconds;
/** Frames per observation batch (the agent flushes every 250 ms or 25 frames). */
const BATCH_FRAMES = 5;

const num = (v: string | undefined, flag: string, def: number, min: number, max: number, integer = false): number => numberFlag(v, flag, def, min, max, integer);

/** A confirmed box of one camera's frame, with the global id a live view showed for it. */
interface CameraBox {
  frame: number;
  timestampMs: number;
  localId: number;
  online: string | undefined;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

const idNumber = (id: string) => Number(id.replace(/^\D+/, ''));

function asMotFile(source: string, kind: 'gt' | 'res', boxes: readonly MotBox[]): MotFile {
  return { source, kind, format: 'mot15', rows: boxes.map((b, i) => ({ ...b, conf: b.conf ?? 1, line: i + 1 })) };
}

async function main(): Promise<void> {
  const values = benchFlags({
    split: { type: 'string' },
    out: { type: 'string' },
    detector: { type: 'string', default: 'yolox' },
    'max-frames': { type: 'string' },
    threshold: { type: 'string' },
    'max-gap': { type: 'string' },
    ...CADENCE_FLAGS,
    threads: { type: 'string' },
    reid: { type: 'string', default: 'osnet-x0.25-msmt17' },
    'reid-input': { type: 'string' },
    'reduced-input-scale': { type: 'string' },
    record: { type: 'string' },
    replay: { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) return void console.log(USAGE);
  const base = DETECTORS[values.detector!];
  if (!base) throw new Error(`--detector must be one of ${Object.keys(DETECTORS).join(', ')}, got '${values.detector}'`);
  const reducedInputScale = num(values['reduced-input-scale'], '--reduced-input-scale', 0, 0, 0.95);
  const detector: DetectorSpec = reducedInputScale ? { ...base, reducedInputScale } : base;
  const reidInput = values['reid-input'] === undefined ? undefined : /^(\d+)x(\d+)$/.exec(values['reid-input']);
  if (reidInput === null) throw new Error(`--reid-input must look like 96x192, got '${values['reid-input']}'`);
  const maxFrames = num(values['max-frames'], '--max-frames', VIDEO_FRAMES, 1, VIDEO_FRAMES, true);
  const threshold = num(values.threshold, '--threshold', DEFAULT_THRESHOLD, 0, 2);
  const maxGapSeconds = num(values['max-gap'], '--max-gap', DEFAULT_MAX_GAP_S, 0, 86400);
  const { cadence, embeddingLevels, describe: cadenceDescription } = cadenceFromFlags(values);
  const threads = num(values.threads, '--threads', 1, 1, 64, true);
  // Same defaults as scripts/test.mjs: the shared folder beside the repository.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  process.env.MEI_DATA_DIR ??= path.resolve(root, '../shared/data');
  process.env.MEI_MODEL_DIR ??= path.resolve(root, '../shared/models');
  const dataDir = process.env.MEI_DATA_DIR;
  const splitFile = values.split ?? DEFAULT_SPLIT;
  const regions = loadSplit(splitFile, FRAME);
  const outDir = path.resolve(values.out ?? '.mei/bench-mtmc');
  mkdirSync(outDir, { recursive: true });

  // Ground truth: GT frame n+1 = video frame n, so MOT frame numbers are frame index + 1 on both sides.
  const gt = readMotFile(path.join(dataDir, 'PETS09-S2L1/gt/gt.txt'), { kind: 'gt' });
  const gtRows = gt.rows.filter((r) => r.frame <= maxFrames);
  const gtPerCamera = splitGroundTruth(gtRows, regions);

  const overlaps = regionOverlaps(regions);
  const cameras: CameraSpec[] = regions.map((r) => ({
    name: r.name,
    node: 'bench',
    source: path.join(dataDir, 'vtest.avi'),
    roi: { x: r.x, y: r.y, width: r.w, height: r.h },
    overlaps: overlaps.get(r.name),
  }));
  const models = { detector, reid: { kind: 'onnx' as const, name: values.reid!, ...(reidInput ? { inputWidth: Number(reidInput[1]), inputHeight: Number(reidInput[2]) } : {}) } };
  const identities = createIdentityService({ cameras, crossCamera: { matchThreshold: threshold, maxGapSeconds } }, { retainMs: Infinity });
  let identityMs = 0;
  let batches = 0;
  const names = regions.map((r) => r.name);
  const boxes = new Map<string, CameraBox[]>(names.map((n) => [n, []]));
  const framesSeen = new Map<string, number>(names.map((n) => [n, 0]));
  const fps = new Map<string, number>();
  const recorder = values.record ? createWriteStream(values.record) : undefined;
  // Everything a camera reports goes through here, live or replayed, in arrival order.
  const deliver = (b: ObservationBatch) => {
    recorder?.write(`${JSON.stringify(b)}\n`);
    const t0 = performance.now();
    identities.ingest(b);
    identityMs += performance.now() - t0;
    batches++;
    const list = boxes.get(b.camera)!;
    for (const f of b.frames) {
      framesSeen.set(b.camera, Math.max(framesSeen.get(b.camera)!, f.frameIndex + 1));
      for (const t of f.tracks) {
        if (t.state !== 'confirmed') continue; // seen in this frame: what a MOT result lists
        // Online id: what a live view draws once this batch has reached the server.
        list.push({ frame: f.frameIndex + 1, timestampMs: f.timestampMs, localId: t.id, online: identities.identityOf(b.camera, t.id), x: t.x, y: t.y, w: t.w, h: t.h, score: t.score });
      }
    }
  };

  /** Edge CPU and protocol-2 bytes of the vision run (absent when replayed). */
  let edge: { cpuMsPerFrame: number | null; wireBytes: number; embeddings: number } | null = null;
  const wall0 = performance.now();
  const frameRecorder = values['record-frames'] ? createWriteStream(values['record-frames']) : undefined;
  if (values['replay-frames']) {
    const file = values['replay-frames'];
    const replayed = replayCameraFrames({ cameras, maxFrames, jobKey: 'bench/mtmc', cadence, embeddingLevels, batchFrames: BATCH_FRAMES }, readFrameLines(file, readFileSync(file, 'utf8')), deliver);
    edge = { cpuMsPerFrame: null, ...replayed }; // no vision: bytes and embeddings only
  } else if (values.replay) {
    const lines = readFileSync(values.replay, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      const b = JSON.parse(line) as ObservationBatch;
      if (!boxes.has(b.camera)) throw new Error(`${values.replay}:${i + 1}: camera "${b.camera}" is not in the split ${splitFile}`);
      if (b.frames[0].frameIndex < maxFrames) deliver({ ...b, frames: b.frames.filter((f) => f.frameIndex < maxFrames) });
    });
  } else {
    const recordFrame = frameRecorder && ((camera: string, f: Parameters<typeof frameLine>[1]) => void frameRecorder.write(`${frameLine(camera, f)}\n`));
    const measured = await runCamerasInVideoTimeOrder({ cameras, models, maxFrames, threads, jobKey: 'bench/mtmc', cadence, embeddingLevels, batchFrames: BATCH_FRAMES, recordFrame }, deliver);
    for (const [name, f] of measured.fps) fps.set(name, f);
    edge = { cpuMsPerFrame: round(measured.edgeCpuMsPerFrame, 2), wireBytes: measured.wireBytes, embeddings: measured.embeddings };
  }
  await Promise.all([recorder, frameRecorder].map((r) => new Promise<void>((resolve) => (r ? r.end(resolve) : resolve()))));
  const wallMs = performance.now() - wall0;

  // Final ids: each box's tracklet as the identity service sees it now (after every merge and split).
  // A track that never got an embedding has no global id: it keeps a camera-local one.
  const localId = (k: number, id: number) => 1_000_000 + k * 100_000 + id;
  let unidentified = 0;
  const resFinal = new Map<string, MotBox[]>();
  const resOnline = new Map<string, MotBox[]>();
  const resLocal = new Map<string, MotBox[]>();
  names.forEach((name, k) => {
    const camBoxes = boxes.get(name)!;
    const final: MotBox[] = [];
    for (const b of camBoxes) {
      const g = identities.identityAt(name, b.localId, b.timestampMs);
      if (g === undefined) unidentified++;
      final.push({ frame: b.frame, id: g === undefined ? localId(k, b.localId) : idNumber(g), x: b.x, y: b.y, w: b.w, h: b.h, conf: b.score });
    }
    resFinal.set(name, final);
    resOnline.set(name, camBoxes.map((b) => ({ ...b, id: b.online === undefined ? localId(k, b.localId) : idNumber(b.online), conf: b.score })));
    resLocal.set(name, camBoxes.map((b) => ({ ...b, id: localId(k, b.localId), conf: b.score })));
    writeFileSync(
      path.join(outDir, `${name}.txt`),
      final.map((b) => `${b.frame},${b.id},${b.x.toFixed(2)},${b.y.toFixed(2)},${b.w.toFixed(2)},${b.h.toFixed(2)},${(b.conf ?? 1).toFixed(4)},-1,-1,-1\n`).join(''),
    );
  });

  const frames = Math.min(maxFrames, ...framesSeen.values());
  const gtAll = asMotFile('gt', 'gt', concatCameras(gtPerCamera, names, maxFrames));
  const cross = (res: Map<string, MotBox[]>) => evaluateMot(gtAll, asMotFile('res', 'res', concatCameras(res, names, maxFrames))).summary;
  const crossFinal = cross(resFinal);
  const crossOnline = cross(resOnline);
  const crossLocal = cross(resLocal);
  const perCamera = regions.map((region, k) => {
    const name = region.name;
    const s: MotSummary = evaluateMot(asMotFile(name, 'gt', gtPerCamera.get(name)!), asMotFile(name, 'res', resFinal.get(name)!)).summary;
    const local = evaluateMot(asMotFile(name, 'gt', gtPerCamera.get(name)!), asMotFile(name, 'res', resLocal.get(name)!)).summary;
    return { name, roi: cameras[k].roi, frames: framesSeen.get(name), fps: fps.has(name) ? round(fps.get(name)!) : null, mota: round(s.mota), idf1: round(s.idf1), idsw: s.idsw, localIdf1: round(local.idf1), gtIds: s.numGtIds, predIds: s.numPredIds };
  });
  const crossOracle = cross(trackletOracle(boxes, gtPerCamera, names));
  const gtIds = new Set(gtRows.filter((r) => r.conf !== 0).map((r) => r.id)).size;
  const stats = identities.stats();
  const result = {
    benchmark: 'mtmc-pets09-s2l1',
    observations: values['replay-frames'] ? `frames replayed from ${values['replay-frames']}` : values.replay ? `replayed from ${values.replay}` : 'edge pipelines',
    split: path.relative(process.cwd(), splitFile),
    detector: values.detector,
    reid: `${models.reid.name}${reidInput ? `@${reidInput[1]}x${reidInput[2]}` : ''}`,
    reducedInputScale,
    crossCamera: { matchThreshold: threshold, maxGapSeconds },
    embeddingCadence: cadenceDescription,
    frames,
    cameras: perCamera,
    crossCameraIdf1: round(crossFinal.idf1),
    crossCameraIdp: round(crossFinal.idp),
    crossCameraIdr: round(crossFinal.idr),
    crossCameraMota: round(crossFinal.mota),
    crossCameraIdf1Online: round(crossOnline.idf1),
    crossCameraIdf1LocalIdsOnly: round(crossLocal.idf1),
    crossCameraIdf1TrackletOracle: round(crossOracle.idf1),
    identities: { predicted: new Set([...resFinal.values()].flat().map((b) => b.id)).size, live: stats.identities, gt: gtIds },
    unidentifiedBoxes: unidentified,
    edge,
    identityService: { batches, totalMs: round(identityMs, 1), meanMsPerBatch: round(identityMs / Math.max(1, batches), 3), ...stats },
    wallSeconds: round(wallMs / 1000, 1),
    out: outDir,
  };
  if (values.json) return void console.log(JSON.stringify(result));
  console.log(`MTMC on PETS09-S2L1, ${regions.length} virtual cameras (${result.split}), ${frames} frames, detector ${values.detector}, reid ${models.reid.name}`);
  for (const c of perCamera) console.log(`  ${c.name.padEnd(10)} MOTA ${pct(c.mota)}  IDF1 ${pct(c.idf1)} (local ids ${pct(c.localIdf1)})  IDsw ${c.idsw}${c.fps === null ? '' : `  ${c.fps} fps`}`);
  console.log(`  cross-camera IDF1 ${pct(result.crossCameraIdf1)} (IDP ${pct(result.crossCameraIdp)} IDR ${pct(result.crossCameraIdr)}); online ${pct(result.crossCameraIdf1Online)}`);
  console.log(`    for scale: local track ids only ${pct(result.crossCameraIdf1LocalIdsOnly)}; every local track given its true person ${pct(result.crossCameraIdf1TrackletOracle)}`);
  console.log(`  identities ${result.identities.predicted} (gt ${gtIds}); identity service ${result.identityService.meanMsPerBatch} ms/batch over ${batches} batches; ${result.wallSeconds} s wall`);
  console.log(`  results in ${outDir}`);
}

/**
 * Ceiling for any service that labels whole local tracks: each track gets the gt id it overlaps most
 * (IoU >= 0.5); a second track given the same id in the same frame keeps a local id. Tracks the edge
 * tracker switched between people stay wrong for part of their length: the identity service can only
 * beat this by cutting tracks where their appearance changes.
 */
function trackletOracle(boxes: ReadonlyMap<string, CameraBox[]>, gt: ReadonlyMap<string, MotBox[]>, names: readonly string[]): Map<string, MotBox[]> {
  const out = new Map<string, MotBox[]>();
  names.forEach((name, k) => {
    const gtByFrame = new Map<number, MotBox[]>();
    for (const g of gt.get(name) ?? []) if (g.conf !== 0) (gtByFrame.get(g.frame) ?? gtByFrame.set(g.frame, []).get(g.frame)!).push(g);
    const votes = new Map<number, Map<number, number>>();
    for (const b of boxes.get(name) ?? []) {
      let best: MotBox | undefined;
      let bestIou = 0.5;
      for (const g of gtByFrame.get(b.frame) ?? []) {
        const o = iou(b, g);
        if (o >= bestIou) [best, bestIou] = [g, o];
      }
      if (!best) continue;
      const v = votes.get(b.localId) ?? votes.set(b.localId, new Map()).get(b.localId)!;
      v.set(best.id, (v.get(best.id) ?? 0) + 1);
    }
    const label = new Map([...votes].map(([local, v]) => [local, [...v].sort((a, b) => b[1] - a[1])[0][0]]));
    const used = new Set<string>();
    out.set(
      name,
      (boxes.get(name) ?? []).map((b) => {
        let id = label.get(b.localId) ?? 1_000_000 + k * 100_000 + b.localId;
        if (used.has(`${b.frame}:${id}`)) id = 1_000_000 + k * 100_000 + b.localId;
        used.add(`${b.frame}:${id}`);
        return { frame: b.frame, id, x: b.x, y: b.y, w: b.w, h: b.h };
      }),
    );
  });
  return out;
}

function round(v: number, digits = 4): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

main().catch((e) => {
  console.error(`bench-mtmc: ${(e as Error).message}`);
  process.exit(1);
});
