import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector } from '@mei/vision/detectors';
import { yoloxAnchorCount, yoloxDecoder, yolov8Decoder } from '@mei/vision/detectors/decoders';
import { ModelError } from '@mei/vision/models/resolve';
import { iou } from '@mei/vision/geometry';
import type { Detection, Detector, Frame } from '@mei/vision/types';
import { openVideoSource } from '../src/sources/index.ts';
import { loadPetsGt, MODEL_DIR, modelEnv, VTEST } from '../../test/support/shared-data.ts';

/** Greedy one-to-one matching at IoU >= 0.5: how many GT boxes a detection found. */
function matchedCount(gt: Array<{ x: number; y: number; w: number; h: number }>, dets: Detection[]): number {
  const used = new Set<number>();
  let hits = 0;
  for (const g of gt) {
    let best = 0.5;
    let bi = -1;
    dets.forEach((d, i) => {
      const v = iou(g, d);
      if (!used.has(i) && v >= best) [best, bi] = [v, i];
    });
    if (bi >= 0) {
      used.add(bi);
      hits++;
    }
  }
  return hits;
}

describe('YOLOX-nano on PETS09-S2L1 (vtest.avi)', () => {
  let detector: Detector;
  const frames = new Map<number, Frame>();
  const gt = loadPetsGt();

  beforeAll(async () => {
    detector = await createDetector({ name: 'yolox-nano', decoder: 'yolox', scoreThreshold: 0.3 }, { env: modelEnv() });
    const src = await openVideoSource({ source: VTEST, mode: 'history', maxFrames: 101 });
    for await (const f of src) if (f.index === 0 || f.index === 100) frames.set(f.index, f);
  });
  afterAll(() => detector?.dispose());

  it('finds the annotated people in frames 0 and 100 (recall >= 0.8 at IoU 0.5, precision >= 0.6)', async () => {
    let hits = 0;
    let total = 0;
    let dets = 0;
    for (const [index, frame] of frames) {
      const found = await detector.detect(frame);
      const people = gt.get(index + 1)!;
      hits += matchedCount(people, found);
      total += people.length;
      dets += found.length;
      for (const d of found) {
        expect(d.classId).toBe(0);
        expect(d.x).toBeGreaterThanOrEqual(0);
        expect(d.x + d.w).toBeLessThanOrEqual(768 + 1e-6);
        expect(d.y + d.h).toBeLessThanOrEqual(576 + 1e-6);
      }
    }
    expect(total).toBeGreaterThan(8);
    expect(hits / total).toBeGreaterThanOrEqual(0.8);
    expect(hits / dets).toBeGreaterThanOrEqual(0.6);
  });

  it('runs the fixed 416x416 export at 544x416 (re-declared input, 4:3 like the video) and finds at least as many people', async () => {
    const wide = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 544, inputHeight: 416, scoreThreshold: 0.3 }, { env: modelEnv() });
    try {
      expect(wide.name).toBe('yolox-nano@544x416');
      let hits416 = 0;
      let hits544 = 0;
      for (const [index, frame] of frames) {
        const people = gt.get(index + 1)!;
        hits416 += matchedCount(people, await detector.detect(frame));
        hits544 += matchedCount(people, await wide.detect(frame));
      }
      expect(hits544).toBeGreaterThanOrEqual(hits416);
    } finally {
      await wide.dispose();
    }
  });

  it('two-scale (reducedInputScale 0.6): the full pass equals the plain detector, the reduced one runs 256x192 and finds the near people', async () => {
    const two = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 416, inputHeight: 320, reducedInputScale: 0.6, scoreThreshold: 0.3 }, { env: modelEnv() });
    const plain = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 416, inputHeight: 320, scoreThreshold: 0.3 }, { env: modelEnv() });
    const small = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 256, inputHeight: 192, scoreThreshold: 0.3 }, { env: modelEnv() });
    try {
      expect(two.name).toBe('yolox-nano@416x320+256x192');
      for (const [index, frame] of frames) {
        expect(await two.detect(frame)).toEqual(await plain.detect(frame));
        expect(await two.detect(frame, 'full')).toEqual(await plain.detect(frame));
        const reduced = await two.detect(frame, 'reduced');
        expect(reduced).toEqual(await small.detect(frame));
        // The cheap pass still finds most of the annotated people whose box is tall enough at its scale.
        const tall = gt.get(index + 1)!.filter((g) => g.h * (192 / 576) >= 24);
        expect(tall.length).toBeGreaterThan(2);
        expect(matchedCount(tall, reduced) / tall.length).toBeGreaterThanOrEqual(0.6);
      }
    } finally {
      await Promise.all([two.dispose(), plain.dispose(), small.dispose()]);
    }
  });

  it('finds nobody in a grey frame', async () => {
    const grey: Frame = { index: 0, timestampMs: 0, width: 768, height: 576, data: new Uint8Array(768 * 576 * 3).fill(128) };
    expect(await detector.detect(grey)).toEqual([]);
  });
});

describe('decoders', () => {
  it('YOLOX: grid cell, stride and exp() size give the box; score = objectness x class probability', () => {
    const n = yoloxAnchorCount(64, 64); // 8x8 + 4x4 + 2x2 = 84
    expect(n).toBe(84);
    const attrs = 5 + 80;
    const out = new Float32Array(n * attrs);
    // Anchor 64 + 5 is stride 16, grid (x=1, y=1).
    const a = 64 + 5;
    out.set([0.5, 0.25, Math.log(2), Math.log(4), 0.9, 0.8], a * attrs);
    out[a * attrs + 5 + 2] = 0.99; // a confident car is not a person
    const dets = yoloxDecoder.decode(out, [1, n, attrs], { inputWidth: 64, inputHeight: 64, scoreThreshold: 0.3, classIds: [0] });
    expect(dets).toHaveLength(1);
    const d = dets[0];
    expect(d.score).toBeCloseTo(0.72);
    expect(d.w).toBeCloseTo(32);
    expect(d.h).toBeCloseTo(64);
    expect(d.x + d.w / 2).toBeCloseTo(1.5 * 16);
    expect(d.y + d.h / 2).toBeCloseTo(1.25 * 16);
    expect(() => yoloxDecoder.check([1, 3549, 85], { inputWidth: 640, inputHeight: 640, scoreThreshold: 0.3, classIds: [0] })).toThrow(/8400/);
  });

  it('YOLOv8: reads [1, 4+C, N] and its transpose the same way', () => {
    const n = 100;
    const attrs = 4 + 80;
    const chFirst = new Float32Array(attrs * n);
    const set = (k: number, i: number, v: number) => (chFirst[k * n + i] = v);
    [50, 60, 20, 40].forEach((v, k) => set(k, 7, v));
    set(4, 7, 0.8);
    set(5, 9, 0.9); // class 1 only
    const ctx = { inputWidth: 640, inputHeight: 640, scoreThreshold: 0.25, classIds: [0] };
    const a = yolov8Decoder.decode(chFirst, [1, attrs, n], ctx);
    expect(a).toEqual([{ x: 40, y: 40, w: 20, h: 40, score: expect.closeTo(0.8, 5), classId: 0 }]);
    const transposed = new Float32Array(n * attrs);
    for (let k = 0; k < attrs; k++) for (let i = 0; i < n; i++) transposed[i * attrs + k] = chFirst[k * n + i];
    expect(yolov8Decoder.decode(transposed, [1, n, attrs], ctx)).toEqual(a);
  });
});

describe('createDetector errors name the spec field', () => {
  let tmp: string;
  beforeAll(() => (tmp = mkdtempSync(path.join(tmpdir(), 'mei-models-'))));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('missing file', async () => {
    const err = await createDetector({ path: '/nowhere/model.onnx', decoder: 'yolox' }, { env: modelEnv() }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.field).toBe('spec.models.detector.path');
    expect(err.message).toContain('/nowhere/model.onnx');
  });

  it('registry model absent from MEI_MODEL_DIR points at where to get it', async () => {
    const err = await createDetector({ name: 'yolox-nano', decoder: 'yolox' }, { env: { MEI_MODEL_DIR: tmp } }).catch((e) => e);
    expect(err.field).toBe('spec.models.detector.name');
    expect(err.message).toMatch(/releases\/download\/0\.1\.1rc0\/yolox_nano\.onnx/);
  });

  it('a file under a registry name that is not the published model (sha256 mismatch)', async () => {
    copyFileSync(path.join(MODEL_DIR, 'osnet_x0_25_msmt17.onnx'), path.join(tmp, 'yolox_nano.onnx'));
    const err = await createDetector({ name: 'yolox-nano', decoder: 'yolox' }, { env: { MEI_MODEL_DIR: tmp } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.field).toBe('spec.models.detector.name');
    expect(err.message).toMatch(/is not the registry's yolox-nano \(sha256 61b26041/);
    rmSync(path.join(tmp, 'yolox_nano.onnx'));
  });

  it('unknown decoder and unknown model name', async () => {
    const e1 = await createDetector({ name: 'yolox-nano', decoder: 'ssd' as never }, { env: modelEnv() }).catch((e) => e);
    expect(e1.field).toBe('spec.models.detector.decoder');
    const e2 = await createDetector({ name: 'yolo-huge', decoder: 'yolox' }, { env: modelEnv() }).catch((e) => e);
    expect(e2.field).toBe('spec.models.detector.name');
    expect(e2.message).toMatch(/known: yolox-nano/);
  });

  it('a reduced input scale outside (0, 1), or one that rounds to the full size, names reducedInputScale', async () => {
    for (const reducedInputScale of [1, 1.5, -0.2, 0.97]) {
      const err = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 416, inputHeight: 320, reducedInputScale }, { env: modelEnv() }).catch((e) => e);
      expect(err, `reducedInputScale ${reducedInputScale}`).toBeInstanceOf(ModelError);
      expect(err.field).toBe('spec.models.detector.reducedInputScale');
    }
  });

  it('an input size the graph cannot run at', async () => {
    const err = await createDetector({ name: 'yolox-nano', decoder: 'yolox', inputWidth: 500, inputHeight: 500 }, { env: modelEnv() }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.field).toBe('spec.models.detector.name');
    expect(err.message).toMatch(/exported for 416x416 and does not run at 500x500/);
  });

  it('a model whose input does not fit the decoder (a ReID network as detector)', async () => {
    copyFileSync(path.join(MODEL_DIR, 'osnet_x0_25_msmt17.onnx'), path.join(tmp, 'reid.onnx'));
    const err = await createDetector({ path: 'reid.onnx', decoder: 'yolox' }, { env: { MEI_MODEL_DIR: tmp } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.field).toBe('spec.models.detector.path');
    expect(err.message).toMatch(/does not fit decoder 'yolox': YOLOX output must be \[1, 672, 5\+classes\]/);
  });

  it('a file that is not ONNX', async () => {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(tmp, 'junk.onnx'), 'junk');
    const err = await createDetector({ path: path.join(tmp, 'junk.onnx'), decoder: 'yolov8' }, { env: modelEnv() }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toMatch(/cannot load ONNX model/);
  });
});
