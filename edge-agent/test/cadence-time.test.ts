// Issue #16: a detection cadence in time (models.detector.detectIntervalMs) with the uncertainty trigger
// (coastMaxShift). The calm-scene rule runs on PETS09-S2L1's public detections replayed from det.txt as the
// detector (scripted detections, no network: the rule only sees boxes and timestamps), then once end to end
// with YOLOX-nano on the video.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createValidator, withDefaults } from '@mei/contracts';
import { loadJobSchema } from '@mei/contracts/crd';
import type { Detector, Frame } from '@mei/vision/types';
import { createCameraPipeline, createPipeline } from '../src/pipeline/pipeline.ts';
import { createTracker } from '../src/tracker/index.ts';
import { loadDetections } from '../../scripts/bench-cadence.ts';
import { DATA_DIR, modelEnv, VTEST } from '../../test/support/shared-data.ts';

const DET = loadDetections(path.join(DATA_DIR, 'PETS09-S2L1/det/det.txt'));

/** PETS09's public detections played at `fps` through the pipeline's cadence; the share of frames detected. */
async function detectedShare(fps: number, cadence: { detectIntervalMs?: number; coastMaxShift?: number; detectAhead?: boolean }, frames = 200) {
  const data = new Uint8Array(0);
  async function* source(): AsyncGenerator<Frame> {
    for (let i = 0; i < frames; i++) yield { index: i, timestampMs: (i * 1000) / fps, width: 768, height: 576, data };
  }
  const detected: number[] = [];
  const detector: Detector = { name: 'det.txt', detect: async (f) => (detected.push(f.index), DET.byFrame.get(f.index) ?? []), dispose: async () => {} };
  const s = await createPipeline({ source: source(), detector, tracker: createTracker(undefined), embedMinScore: 0.5, ...cadence }).run();
  expect(s.detectedFrames).toBe(detected.length);
  return { share: s.detectedFrames / s.frames, detected };
}

describe('detection cadence in time (scripted detections from PETS09 det.txt)', () => {
  it('the same interval detects every frame at 10 fps and skips frames at 25 fps', async () => {
    const at10 = await detectedShare(10, { detectIntervalMs: 80 });
    const at25 = await detectedShare(25, { detectIntervalMs: 80 });
    expect(at10.share).toBe(1);
    expect(at25.share).toBeLessThan(0.9);
    // Never more than 80 ms (two frames at 25 fps) between detections: the busy-scene rule only adds frames.
    const gaps = at25.detected.slice(1).map((f, i) => f - at25.detected[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2);
  });

  it('coastMaxShift detects more often the faster people move relative to their size', async () => {
    const loose = await detectedShare(25, { detectIntervalMs: 400 });
    const tight = await detectedShare(25, { detectIntervalMs: 400, coastMaxShift: 0.02 });
    expect(tight.share).toBeGreaterThan(loose.share + 0.05);
  });

  it('decides the same frames whether detection runs ahead or in turn', async () => {
    const cadence = { detectIntervalMs: 120, coastMaxShift: 0.2 };
    const inTurn = await detectedShare(25, { ...cadence, detectAhead: false });
    const ahead = await detectedShare(25, { ...cadence, detectAhead: true });
    expect(inTurn.share).toBeLessThan(1);
    expect(ahead.detected).toEqual(inTurn.detected);
  });
});

describe('spec.models.detector.detectIntervalMs / coastMaxShift', () => {
  const validator = createValidator(loadJobSchema());
  const job = (detector: Record<string, unknown>) => ({
    apiVersion: 'sedna.io/v1alpha1',
    kind: 'MultiEdgeInference',
    metadata: { name: 'x' },
    spec: { cameras: [{ name: 'c', node: 'n', source: '/v.avi' }], models: { detector: { decoder: 'yolox', ...detector } } },
  });
  it('default to off and to the TUD-chosen shift; bad values name the field', () => {
    const j = job({});
    expect(validator.validate(j)).toEqual([]);
    expect(j.spec.models.detector).toMatchObject({ detectIntervalMs: 0, coastMaxShift: withDefaults('models.detector').coastMaxShift });
    expect(withDefaults('models.detector').coastMaxShift).toBe(0.2);
    expect(validator.validate(job({ detectIntervalMs: -1 })).map((e) => e.field)).toContain('spec.models.detector.detectIntervalMs');
    expect(validator.validate(job({ coastMaxShift: 0 })).map((e) => e.field)).toContain('spec.models.detector.coastMaxShift');
  });

  it('YOLOX-nano on PETS09: a 250 ms cadence skips frames and keeps the people on their predicted boxes', async () => {
    const p = await createCameraPipeline({
      camera: { source: VTEST },
      models: { detector: { name: 'yolox-nano', decoder: 'yolox', detectIntervalMs: 250 } },
      tracking: { minHits: 1 },
      mode: 'history',
      maxFrames: 16,
      env: modelEnv(),
      histogramFallback: false,
    });
    const coasted: number[] = [];
    const s = await p.run((r) => void (r.timings.detectMs === 0 && r.detections.length === 0 && coasted.push(r.tracks.filter((t) => t.state === 'confirmed').length)));
    await p.dispose();
    expect(s.frames).toBe(16);
    expect(s.detectedFrames).toBeLessThan(16);
    expect(coasted.length).toBe(16 - s.detectedFrames);
    for (const n of coasted) expect(n).toBeGreaterThanOrEqual(3);
  });
});
