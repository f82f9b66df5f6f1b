// The production camera runner (real YOLOX-nano + colour histograms on the first frames of PETS09-S2L1)
// sends track thumbnails only when privacy.preview allows person crops: with 'thumbnails' each confirmed
// track gets one on its first frame with a usable box (or the next ones, when more tracks than the per-frame
// limit became usable at once), then only a clearly larger one; with 'none' or
// 'snapshot' it sends none. The context records what the runner hands to the agent.
import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { TrackThumbnailSchema, applyTaskDefaults, type CameraSpec, type ObservationBatch, type PreviewFrame, type PrivacySpec, type TrackThumbnail } from '@mei/contracts';
import { PipelineCameraRunner } from '../src/agent/pipeline-runner.ts';
import type { CameraRunnerContext } from '../src/agent/camera-runner.ts';
import { cropRegion, cropSize } from '@mei/vision/image';
import { MAX_THUMBNAILS_PER_FRAME, THUMBNAIL_EVERY_MS, THUMBNAIL_MIN_HEIGHT, THUMBNAIL_MIN_WIDTH, THUMBNAIL_PAD, THUMBNAIL_UPGRADE } from '../src/agent/thumbnail-picker.ts';
import { modelEnv, VTEST } from '../../test/support/shared-data.ts';

const FRAMES = 30;
const W = 768;
const H = 576;

interface Run {
  frames: ObservationBatch['frames'];
  thumbnails: Array<Omit<TrackThumbnail, 'jobKey' | 'session'>>;
  previews: Array<Omit<PreviewFrame, 'jobKey'>>;
  slotQueries: number;
}

/** Runs the real pipeline runner on FRAMES frames of the sample video with `privacy`. */
async function run(privacy: PrivacySpec): Promise<Run> {
  const camera: CameraSpec = { name: 'cam', node: 'n1', source: VTEST };
  const task = applyTaskDefaults({
    jobKey: 'default/thumbs',
    uid: 'u1',
    generation: 1,
    node: 'n1',
    mode: 'history',
    cameras: [camera],
    models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
    privacy,
    threads: 2,
  });
  const out: Run = { frames: [], thumbnails: [], previews: [], slotQueries: 0 };
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  let runner!: PipelineCameraRunner;
  const ctx: CameraRunnerContext = {
    task,
    camera: task.cameras[0],
    onChange: () => {
      const s = runner.report().state;
      if (s === 'Completed' || s === 'Failed') finished();
    },
    emitObservations: (b) => void out.frames.push(...b.frames),
    observationBacklog: () => 0,
    privacy: () => task.privacy,
    emitPreview: (p) => void out.previews.push(p),
    thumbnailSlots: () => (out.slotQueries++, 8),
    emitThumbnail: (t) => void out.thumbnails.push(t),
    log: () => {},
  };
  runner = new PipelineCameraRunner(ctx, modelEnv(), { maxFrames: FRAMES });
  await runner.start();
  await done;
  await runner.stop();
  expect(runner.report()).toMatchObject({ state: 'Completed', framesProcessed: FRAMES });
  return out;
}

/** The rule a first thumbnail follows: a confirmed box big enough and (almost) all inside the frame. */
const usable = (t: { x: number; y: number; w: number; h: number }) => {
  if (t.h < THUMBNAIL_MIN_HEIGHT || t.w < THUMBNAIL_MIN_WIDTH) return false;
  const vw = Math.min(W, t.x + t.w) - Math.max(0, t.x);
  const vh = Math.min(H, t.y + t.h) - Math.max(0, t.y);
  return vw > 0 && vh > 0 && vw * vh >= 0.85 * t.w * t.h;
};

describe('PipelineCameraRunner thumbnails (YOLOX-nano + histograms on PETS09-S2L1)', () => {
  it("'thumbnails': one crop per confirmed track as soon as its box is usable, later only a clearly larger one", async () => {
    const r = await run({ preview: 'thumbnails' });
    expect(r.frames).toHaveLength(FRAMES);
    expect(r.previews).toHaveLength(0); // crops only, never whole frames
    const byFrame = new Map(r.frames.map((f) => [f.frameIndex, f]));
    // The first frame each track is confirmed with a usable box.
    const firstUsable = new Map<number, number>();
    for (const f of r.frames) for (const t of f.tracks) if (t.state === 'confirmed' && usable(t) && !firstUsable.has(t.id)) firstUsable.set(t.id, f.frameIndex);
    expect(firstUsable.size).toBeGreaterThanOrEqual(3); // PETS09-S2L1 starts with several people walking

    const byTrack = new Map<number, typeof r.thumbnails>();
    for (const t of r.thumbnails) byTrack.set(t.localId, [...(byTrack.get(t.localId) ?? []), t]);
    expect([...byTrack.keys()].sort((a, b) => a - b)).toEqual([...firstUsable.keys()].sort((a, b) => a - b));
    const perFrame = new Map<number, number>();
    for (const t of r.thumbnails) perFrame.set(t.frameIndex, (perFrame.get(t.frameIndex) ?? 0) + 1);
    expect(Math.max(...perFrame.values())).toBeLessThanOrEqual(MAX_THUMBNAILS_PER_FRAME);
    for (const [id, list] of byTrack) {
      // On its first usable frame, unless that frame's crops were used up by other tracks.
      const first = firstUsable.get(id)!;
      expect(list[0].frameIndex).toBeGreaterThanOrEqual(first);
      for (let f = first; f < list[0].frameIndex; f++) expect(perFrame.get(f)).toBe(MAX_THUMBNAILS_PER_FRAME);
      for (let i = 1; i < list.length; i++) {
        expect(list[i].timestampMs - list[i - 1].timestampMs).toBeGreaterThanOrEqual(THUMBNAIL_EVERY_MS);
        expect(list[i].width * list[i].height).toBeGreaterThanOrEqual(THUMBNAIL_UPGRADE * list[i - 1].width * list[i - 1].height);
      }
    }
    for (const t of r.thumbnails) {
      // What goes on the wire passes the server's schema and is a real JPEG of the stated size...
      expect(TrackThumbnailSchema.safeParse({ ...t, jobKey: 'default/thumbs', session: 's' }).success).toBe(true);
      const img = jpeg.decode(t.jpeg, { useTArray: true });
      expect([img.width, img.height]).toEqual([t.width, t.height]);
      // ...cut around the track's box of that very frame.
      const box = byFrame.get(t.frameIndex)!.tracks.find((x) => x.id === t.localId)!;
      expect(box.state).toBe('confirmed');
      expect(cropSize(cropRegion(box, W, H, THUMBNAIL_PAD))).toEqual({ width: t.width, height: t.height });
    }
  });

  it.each(['none', 'snapshot'] as const)("'%s': no thumbnails (nor previews) although tracks are confirmed", async (preview) => {
    const r = await run({ preview });
    expect(r.frames.flatMap((f) => f.tracks).filter((t) => t.state === 'confirmed' && usable(t)).length).toBeGreaterThan(10);
    expect(r.thumbnails).toHaveLength(0);
    expect(r.previews).toHaveLength(0);
    expect(r.slotQueries).toBe(0);
  });
});
