import { describe, expect, it } from 'vitest';
import { VideoSource } from '../src/sources/index.ts';
import { VTEST } from '../../test/support/shared-data.ts';

// Two virtual cameras cut from one recording must show the same moment, or cross-camera matching of the
// same person (by place and time) cannot work: a looped replay follows the wall clock, not its start time.
// Asserted as a bracket (the frame the wall clock named between opening and the first frame), so a slow
// machine widens the bracket instead of failing the test.
describe('looped recording replayed as live cameras', () => {
  it('starts where the wall clock says, so cameras opened at different times stay in step', async () => {
    const open = (x: number) => VideoSource.open({ source: VTEST, mode: 'live', loop: true, fps: 10, roi: { x, y: 0, width: 432, height: 576 } });
    const firstFrame = async (x: number) => {
      const t0 = Date.now();
      const src = await open(x);
      const first = await src[Symbol.asyncIterator]().next();
      return { src, t0, t1: Date.now(), index: first.value!.index as number };
    };
    const left = await firstFrame(0);
    // 3 s apart: replays that started from frame 0 would be ~30 frames apart.
    await new Promise((r) => setTimeout(r, 3000));
    const right = await firstFrame(336);
    try {
      const L = left.src.info.loopFrames!;
      const fps = left.src.info.nativeFps!;
      expect(L).toBe(795);
      const clock = (ms: number) => Math.floor((ms / 1000) * fps) % L;
      for (const cam of [left, right]) {
        // The first frame is the wall clock's frame at some moment between t0 and t1 (plus one 10-fps step).
        const lo = clock(cam.t0);
        const span = (clock(cam.t1) - lo + L) % L + Math.ceil(fps / 10) + 1;
        expect((cam.index - lo + L) % L).toBeLessThanOrEqual(span);
      }
      // And the later camera did not start from the earlier one's frame: it follows the clock too.
      expect((right.index - left.index + L) % L).toBeGreaterThanOrEqual(Math.floor(((right.t0 - left.t1) / 1000) * fps) - Math.ceil(fps / 10) - 1);
    } finally {
      await left.src.close();
      await right.src.close();
    }
  });
});
