import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { motLines } from '../src/cli/track.ts';
import { createCameraPipeline, createPipeline, type FrameResult, type PipelineSummary } from '../src/pipeline/pipeline.ts';
import type { Detection, Detector, Frame } from '@mei/vision/types';
import { createWorkerDetector } from '../src/pipeline/workerDetector.ts';
import { createTracker } from '../src/tracker/index.ts';
import { modelEnv, VTEST } from '../../test/support/shared-data.ts';

const MODELS = {
  detector: { name: 'yolox-nano', decoder: 'yolox' as const, scoreThreshold: 0.1 },
  reid: { kind: 'onnx' as const, name: 'osnet-x0.25-msmt17' },
};

async function runPets(detectorWorker: boolean, maxFrames: number, models: typeof MODELS = MODELS): Promise<{ mot: string; dets: Detection[][]; summary: PipelineSummary; results: FrameResult[] }> {
  const pipeline = await createCameraPipeline({ camera: { source: VTEST }, models, mode: 'history', allFrames: true, maxFrames, env: modelEnv(), detectorWorker,
    // The same intra-op threads in both runs: the comparison is about running ahead, not thread counts.
    threads: 1, embedderThreads: 1 });
  let mot = '';
  const dets: Detection[][] = [];
  const results: FrameResult[] = [];
  try {
    const summary = await pipeline.run((r) => {
      mot += motLines(r);
      dets.push(r.detections);
      results.push({ ...r, frame: undefined as unknown as Frame });
    });
    return { mot, dets, summary, results };
  } finally {
    await pipeline.dispose();
  }
}

describe('pipeline with the detector in a worker thread (YOLOX-nano + OSNet on PETS09-S2L1)', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mei-overlap-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('gives exactly the MOT output of the one-thread pipeline on 60 frames, with detection running ahead', async () => {
    const seq = await runPets(false, 60);
    const par = await runPets(true, 60);
    expect(seq.summary.detectAhead).toBe(false);
    expect(par.summary.detectAhead).toBe(true);
    expect(par.summary.frames).toBe(60);
    expect(par.results.map((r) => r.frameIndex)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // Not a trivial comparison: people are tracked in most frames.
    expect(seq.mot.trim().split('\n').length).toBeGreaterThan(150);
    expect(par.dets).toEqual(seq.dets);
    expect(par.mot).toBe(seq.mot);
    // The worker reports its own detect time. How much of it the overlap hides is a speed, measured by
    // bench:edge (detectWait vs detect), not asserted here.
    expect(par.summary.meanMs.detectMs).toBeGreaterThan(0);
    console.log(`[overlap] mean detect ${par.summary.meanMs.detectMs.toFixed(1)} ms, main loop waited ${par.summary.meanMs.detectWaitMs.toFixed(1)} ms`);
    // In one thread the loop waits for the whole detection: the wait contains it.
    for (const r of seq.results) expect(r.timings.detectWaitMs).toBeGreaterThanOrEqual(r.timings.detectMs - 1e-6);
  });

  it('two-scale detection: every other detected frame at the reduced size, the same output ahead and in turn', async () => {
    const twoScale = { ...MODELS, detector: { ...MODELS.detector, reducedInputScale: 0.6 } };
    const seq = await runPets(false, 20, twoScale);
    const par = await runPets(true, 20, twoScale);
    const plain = await runPets(true, 20);
    expect(par.summary.reducedFrames).toBe(10);
    expect(seq.summary.reducedFrames).toBe(10);
    expect(plain.summary.reducedFrames).toBe(0);
    expect(par.dets).toEqual(seq.dets);
    expect(par.mot).toBe(seq.mot);
    // Frames 0, 2, 4 … ran the full pass (the plain detector's boxes), 1, 3, 5 … the reduced one (other boxes).
    for (let i = 0; i < 20; i += 2) expect(par.dets[i]).toEqual(plain.dets[i]);
    expect(Array.from({ length: 10 }, (_, k) => 2 * k + 1).filter((i) => JSON.stringify(par.dets[i]) !== JSON.stringify(plain.dets[i])).length).toBeGreaterThan(5);
  });

  it('reports a model that fails to load in the worker with its spec field, and an unknown name before starting one', async () => {
    const notOnnx = path.join(tmp, 'not-a-model.onnx');
    writeFileSync(notOnnx, 'this is not an ONNX file');
    const err = await createWorkerDetector({ decoder: 'yolox', path: notOnnx }, { env: modelEnv() }).catch((e) => e);
    expect(err.name).toBe('ModelError');
    expect(err.field).toBe('spec.models.detector.path');
    expect(err.message).toMatch(/cannot load ONNX model .*not-a-model\.onnx/);
    const unknown = await createWorkerDetector({ decoder: 'yolox', name: 'nope-det' }, { env: modelEnv() }).catch((e) => e);
    expect(unknown.field).toBe('spec.models.detector.name');
    expect(unknown.message).toMatch(/unknown detector model 'nope-det'/);
  });

  it('stop() during a live run ends after the current frame and drops the detection running ahead', async () => {
    const pipeline = await createCameraPipeline({
      camera: { source: VTEST, loop: true, fps: 10 },
      models: { detector: MODELS.detector },
      mode: 'live',
      env: modelEnv(),
    });
    let n = 0;
    const summary = await pipeline.run(async () => {
      if (++n === 3) await pipeline.stop();
    });
    await pipeline.dispose();
    expect(summary.detectAhead).toBe(true);
    expect(summary.frames).toBe(3);
  });

  it('a detector failure on a frame detected ahead surfaces from run() (mock detector)', async () => {
    let calls = 0;
    const failing: Detector = {
      name: 'mock-fails-on-third',
      offThread: true,
      async detect() {
        if (++calls === 3) throw new Error('mock detector broke');
        return [{ x: 10, y: 10, w: 20, h: 40, score: 0.9, classId: 0 }];
      },
      async dispose() {},
    };
    async function* frames() {
      for (let i = 0; i < 5; i++) yield { index: i, timestampMs: i * 40, width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) };
    }
    const seen: number[] = [];
    const pipeline = createPipeline({ source: frames(), detector: failing, tracker: createTracker(undefined), embedMinScore: 0.5 });
    await expect(pipeline.run((r) => void seen.push(r.frameIndex))).rejects.toThrow('mock detector broke');
    // Frames 0 and 1 were finished; frame 2's detection failed while frame 1 was being tracked.
    expect(seen).toEqual([0, 1]);
  });
});
