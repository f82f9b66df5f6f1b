import { describe, expect, it } from 'vitest';
import { createCameraPipeline, type FrameResult } from '../src/pipeline/pipeline.ts';
import { modelEnv, VTEST } from '../../test/support/shared-data.ts';

describe('createCameraPipeline (YOLOX-nano + colour histograms on PETS09-S2L1)', () => {
  it('emits one result per frame with detections, tracks and per-stage timings', async () => {
    const pipeline = await createCameraPipeline({
      camera: { source: VTEST },
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      tracking: { minHits: 1 },
      mode: 'history',
      maxFrames: 6,
      env: modelEnv(),
    });
    expect(pipeline.source.info.totalFrames).toBe(6);
    const results: FrameResult[] = [];
    const summary = await pipeline.run((r) => void results.push(r));
    await pipeline.dispose();
    expect(summary.frames).toBe(6);
    expect(results.map((r) => r.frameIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results[5].timestampMs).toBeCloseTo(500);
    for (const r of results) {
      expect([r.width, r.height]).toEqual([768, 576]);
      expect(r.detections.length).toBeGreaterThanOrEqual(3); // 3 people in the ground truth of these frames
      expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.detectWaitMs + r.timings.embedMs + r.timings.trackMs - 1e-9);
      expect(r.timings.detectMs).toBeGreaterThan(0);
    }
    const confirmed = results[5].tracks.filter((t) => t.state === 'confirmed');
    expect(confirmed.length).toBeGreaterThanOrEqual(3);
    // Histogram fallback: tracks carry an appearance.
    expect(confirmed[0].embedding?.length).toBe(88);
    // Ids persist from frame to frame for people walking alone.
    const first = new Set(results[1].tracks.map((t) => t.id));
    expect(confirmed.filter((t) => first.has(t.id)).length).toBeGreaterThanOrEqual(3);
    expect(summary.cpuMsPerFrame).toBeGreaterThan(0);
  });

  it('detectEvery runs the detector on fewer frames and carries tracks on prediction in between', async () => {
    const pipeline = await createCameraPipeline({
      camera: { source: VTEST },
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      tracking: { minHits: 1 },
      mode: 'history',
      maxFrames: 12,
      env: modelEnv(),
      detectEvery: 3,
    });
    const results: FrameResult[] = [];
    const summary = await pipeline.run((r) => void results.push(r));
    await pipeline.dispose();
    expect(summary.frames).toBe(12);
    expect(results[0].detections.length).toBeGreaterThanOrEqual(3);
    // Busy frames (new tracks, people close together) are detected anyway, so at most every frame.
    expect(summary.detectedFrames).toBeGreaterThanOrEqual(4);
    expect(summary.detectedFrames).toBeLessThanOrEqual(12);
    for (const r of results) {
      if (r.detections.length === 0) {
        expect(r.timings.detectMs).toBe(0);
        // Coasted frame: the people are still reported, on their predicted boxes.
        expect(r.tracks.filter((t) => t.state === 'confirmed').length).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it('stop() ends a looping live camera and reports a bad source with the camera field', async () => {
    const pipeline = await createCameraPipeline({
      camera: { source: VTEST, loop: true, fps: 10 },
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      mode: 'live',
      env: modelEnv(),
      histogramFallback: false,
    });
    let n = 0;
    const summary = await pipeline.run(async () => {
      if (++n === 3) await pipeline.stop();
    });
    await pipeline.dispose();
    expect(summary.frames).toBe(3);
    const err = await createCameraPipeline({
      camera: { source: '/nowhere/cam.avi' },
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      mode: 'history',
      env: modelEnv(),
      field: 'spec.cameras[1]',
    }).catch((e) => e);
    expect(err.field).toBe('spec.cameras[1].source');
    expect(err.message).toContain('/nowhere/cam.avi');
  });
});
