// Issue #16 levers for many cameras on a small node: the spec fields (detection cadence, reduced-resolution
// decode), the int8 registry entries, and the live pacing bench:node uses. Real YOLOX-nano on PETS09-S2L1.
import { describe, expect, it } from 'vitest';
import { applyTaskDefaults, createValidator } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import { findModel, MODEL_REGISTRY } from '@mei/vision/models/registry';
import { resolveDetectorModel, resolveReidModel } from '@mei/vision/models/resolve';
import { iou } from '@mei/vision/geometry';
import { createCameraPipeline, reducedDecodeSize, type FrameResult } from '../src/pipeline/pipeline.ts';
import { decoderArgs } from '../src/sources/ffmpeg.ts';
import { openVideoSource } from '../src/sources/index.ts';
import { parseSource } from '../src/sources/uri.ts';
import { modelEnv, MODEL_DIR, VTEST } from '../../test/support/shared-data.ts';
import { quietContext } from './support/runner-context.ts';

const YOLOX = { name: 'yolox-nano', decoder: 'yolox' as const };

describe('CRD: the levers are spec fields with safe defaults', () => {
  const spec = (detector: Record<string, unknown>) => ({
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { name: 'x' },
    spec: { cameras: [{ name: 'c', node: 'n', source: '/v.avi' }], models: { detector: { decoder: 'yolox', ...detector } } },
  });
  const validator = createValidator(loadJobSchema());
  it('defaults to every frame at full resolution', () => {
    const job = spec({});
    expect(validator.validate(job)).toEqual([]);
    expect(job.spec.models.detector).toMatchObject({ detectEvery: 1, decodeAtInputSize: false });
  });
  it('rejects a cadence outside 1..10 naming the field', () => {
    for (const bad of [0, 11, 2.5]) {
      const errors = validator.validate(spec({ detectEvery: bad }));
      expect(errors.map((e) => e.field)).toContain('spec.models.detector.detectEvery');
    }
  });
});

describe('int8 registry entries: made by the user with scripts/quantize-models.sh, float stays a choice', () => {
  it('mirror the float model with a local file and no published checksum', () => {
    for (const base of ['yolox-nano', 'osnet-x0.25-msmt17']) {
      const q = findModel(`${base}-int8`)!;
      const f = MODEL_REGISTRY[base];
      expect(q).toMatchObject({ kind: f.kind, input: f.input, quantizedFrom: base, file: f.file.replace('.onnx', '.int8.onnx') });
      expect(q.sha256).toBeUndefined();
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(findModel('yolox-nano-int8')!.sizeStride).toBe(32);
  });
  it('a missing int8 file names the field and how to make it', () => {
    const env = { MEI_MODEL_DIR: MODEL_DIR };
    expect(() => resolveDetectorModel({ name: 'yolox-nano-int8', decoder: 'yolox' }, env)).toThrow(/spec\.models\.detector\.name: model file not found: .*yolox_nano\.int8\.onnx.*quantize-models\.sh/);
    expect(() => resolveReidModel({ name: 'osnet-x0.25-msmt17-int8' }, env)).toThrow(/spec\.models\.reid\.name: .*quantize-models\.sh/);
  });
});

describe('reduced-resolution decode (spec.models.detector.decodeAtInputSize)', () => {
  it('decodes at the fitted detector input scale, and not when the frame is no larger', () => {
    expect(reducedDecodeSize({ width: 768, height: 576 }, { inputWidth: 416, inputHeight: 320 })).toEqual({ width: 416, height: 312 });
    expect(reducedDecodeSize({ width: 432, height: 576 }, { inputWidth: 320, inputHeight: 416 })).toEqual({ width: 312, height: 416 });
    expect(reducedDecodeSize({ width: 416, height: 312 }, { inputWidth: 416, inputHeight: 320 })).toBeUndefined();
    expect(reducedDecodeSize(undefined, { inputWidth: 416, inputHeight: 320 })).toBeUndefined();
    const args = decoderArgs(parseSource(VTEST), { realtime: false, loop: false, roi: { x: 336, y: 0, width: 432, height: 576 }, scaleTo: { width: 312, height: 416 } });
    // Cropped first (in source pixels), then scaled.
    expect(args[args.indexOf('-vf') + 1]).toMatch(/crop=432:576:336:0,scale=312:416/);
  });

  it('finds the same people as a full-resolution decode, reported in camera pixels', async () => {
    const run = async (reduced: boolean) => {
      const p = await createCameraPipeline({ camera: { source: VTEST }, models: { detector: { ...YOLOX, scoreThreshold: 0.3, decodeAtInputSize: reduced } }, mode: 'history', maxFrames: 6, env: modelEnv(), histogramFallback: false });
      const out: FrameResult[] = [];
      await p.run((r) => void out.push(r));
      await p.dispose();
      return { out, p };
    };
    const full = await run(false);
    const small = await run(true);
    expect(full.p.decodeSize).toBeUndefined();
    expect(small.p.decodeSize).toEqual({ width: 416, height: 312 });
    expect(small.p.detector.name).toBe('yolox-nano@416x320');
    expect(small.out).toHaveLength(6);
    small.out.forEach((r, i) => {
      expect([r.width, r.height, r.frame.width, r.frame.height]).toEqual([768, 576, 416, 312]);
      const confident = full.out[i].detections.filter((d) => d.score >= 0.6);
      expect(confident.length).toBeGreaterThanOrEqual(3);
      // Every confident full-resolution person is found at the same place in camera pixels.
      for (const d of confident) expect(Math.max(...r.detections.map((e) => iou(d, e)))).toBeGreaterThan(0.7);
    });
  });
});

describe('detection cadence from the spec (spec.models.detector.detectEvery)', () => {
  it('runs the detector on fewer frames than it processes', async () => {
    const p = await createCameraPipeline({ camera: { source: VTEST }, models: { detector: { ...YOLOX, detectEvery: 4 } }, tracking: { minHits: 1 }, mode: 'history', maxFrames: 16, env: modelEnv(), histogramFallback: false });
    const s = await p.run();
    await p.dispose();
    expect(s.frames).toBe(16);
    expect(s.detectedFrames).toBeLessThan(16);
    expect(s.detectedFrames).toBeGreaterThanOrEqual(4);
  });
});

describe('live pacing of a recorded file at another rate (bench:node --fps)', () => {
  it('passes the replay rate to ffmpeg and rejects a bad one naming the field', async () => {
    const args = decoderArgs(parseSource(VTEST), { realtime: true, readRate: 10 / 7, loop: false });
    expect(args.slice(args.indexOf('-readrate'), args.indexOf('-readrate') + 2)).toEqual(['-readrate', '1.4286']);
    expect(decoderArgs(parseSource(VTEST), { realtime: true, loop: false })).toContain('-re');
    await expect(openVideoSource({ source: VTEST, mode: 'live', readRate: 0, field: 'spec.cameras[0]' })).rejects.toMatchObject({ field: 'spec.cameras[0].readRate', message: expect.stringMatching(/readRate must be in/) });
  });
});

describe('cadence under load (spec.models.detector.cadenceOnLoad)', () => {
  it('detects every frame while the camera keeps up, coasts while its source drops frames, and steps back after', async () => {
    const { createPipeline, CALM_FRAMES } = await import('../src/pipeline/pipeline.ts');
    const { createTracker } = await import('../src/tracker/index.ts');
    const behind = 30;
    const total = behind + 4 * CALM_FRAMES; // interval 4 steps back to 1 in 3 calm periods
    const detected: number[] = [];
    // A live source that drops one frame per delivered frame for the first `behind` frames (mock source: the
    // drop counter is what the real one exposes).
    const source = {
      dropped: 0,
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < total; i++) {
          if (i > 0 && i <= behind) source.dropped++;
          yield { index: i, timestampMs: i * 100, width: 640, height: 480, data: new Uint8Array(0) };
        }
      },
    };
    const detector = { name: 'one walker', detect: async (f: { index: number }) => (detected.push(f.index), [{ x: 100 + 2 * f.index, y: 100, w: 40, h: 100, score: 0.9, classId: 0 }]), dispose: async () => {} };
    const p = createPipeline({ source, detector, tracker: createTracker({ minHits: 1 }), embedMinScore: 0.5, detectEvery: 4, cadenceOnLoad: true });
    const s = await p.run();
    const during = detected.filter((i) => i > 4 && i <= behind).length;
    expect(during).toBeLessThan((behind - 4) / 2);
    // After CALM_FRAMES without drops per step back, the last frames are all detected again.
    const tail = detected.filter((i) => i >= total - CALM_FRAMES).length;
    expect(tail).toBe(CALM_FRAMES);
    expect(s.detectEvery).toBe(1);
    expect(s.frames).toBe(total);
  });
});

describe('the node inference budget (spec.workers[].inferenceSlots)', () => {
  it('never runs more than its slots, and gives a freed slot to the camera served least', async () => {
    const { InferenceBudget } = await import('../src/agent/inference-budget.ts');
    const budget = new InferenceBudget(1);
    const order: string[] = [];
    // Each granted inference takes a moment, then frees its slot.
    const take = async (camera: string) => {
      const release = await budget.acquire(camera);
      order.push(camera);
      await new Promise((r) => setTimeout(r, 2));
      release();
    };
    const first = await budget.acquire('busy');
    order.push('busy');
    // While 'busy' holds the slot, it asks three more times and two quiet cameras ask once each.
    const waits = [take('busy'), take('busy'), take('quiet-1'), take('busy'), take('quiet-2')];
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(['busy']);
    first();
    await Promise.all(waits);
    // The quiet cameras (no grant yet) go before busy's second, third and fourth frames.
    expect(order.slice(0, 4)).toEqual(['busy', 'quiet-1', 'quiet-2', 'busy']);
    expect(budget.recentGrants('busy')).toBe(4);
    expect(() => new InferenceBudget(0)).toThrow(/inference slots/);
  });

  it('two cameras of one agent run the real pipeline to the end under a one-slot budget', async () => {
    const { pipelineRunnerFactory } = await import('../src/agent/pipeline-runner.ts');
    const cameras = ['a', 'b'].map((name) => ({ name, node: 'n', source: VTEST }));
    const task = applyTaskDefaults({ jobKey: 'j/x', uid: 'u', generation: 1, node: 'n', mode: 'history', cameras, models: { detector: YOLOX }, inferenceSlots: 1 });
    const factory = pipelineRunnerFactory(modelEnv(), { maxFrames: 4 });
    const frames = new Map<string, number>();
    const runners = task.cameras.map((camera) => factory(quietContext(task, camera, { emitObservations: (b) => frames.set(b.camera, (frames.get(b.camera) ?? 0) + b.frames.length) })));
    await Promise.all(runners.map((r) => r.start()));
    await expect.poll(() => runners.map((r) => r.report().state)).toEqual(['Completed', 'Completed']);
    await Promise.all(runners.map((r) => r.stop()));
    expect([frames.get('a'), frames.get('b')]).toEqual([4, 4]);
  });
});

describe('the control plane carries the node budget to its agent', () => {
  it('puts spec.workers[].inferenceSlots of the node (only) into its task', async () => {
    const { buildTaskAssignment } = await import('../../server/controllers/task.ts');
    const job = {
      apiVersion: 'sedna.io/v1alpha1' as const,
      kind: 'MultiEdgeInference' as const,
      metadata: { name: 'j', namespace: 'default', uid: 'u', resourceVersion: '1', generation: 1, creationTimestamp: new Date(0).toISOString() },
      spec: {
        cameras: [
          { name: 'a', node: 'small', source: '/v.avi' },
          { name: 'b', node: 'big', source: '/v.avi' },
        ],
        models: { detector: YOLOX },
        workers: [{ node: 'small', inferenceSlots: 2 }, { node: 'big', inferenceSlots: 0 }],
      },
    };
    expect(buildTaskAssignment(job, 'small').inferenceSlots).toBe(2);
    expect(buildTaskAssignment(job, 'big')).not.toHaveProperty('inferenceSlots');
  });
});
