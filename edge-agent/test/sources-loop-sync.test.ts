import { describe, expect, it } from 'vitest';
import { VideoSource } from '../src/sources/index.ts';
import { VTEST } from './helpers/shared.ts';

// Two virtual cameras cut from one recording must show the same moment, or cross-camera matching of the
// same person (by place and time) cannot work: a looped replay follows the wall clock, not its start time.
describe('looped recording replayed as live cameras', () => {
  it('starts where the wall clock says, so cameras opened at different times stay in step', async () => {
    const open = (x: number) => VideoSource.open({ source: VTEST, mode: 'live', loop: true, fps: 10, roi: { x, y: 0, width: 432, height: 576 } });
    const left = await open(0);
    // 3 s apart: replays that started from frame 0 would be ~30 frames apart.
    await new Promise((r) => setTimeout(r, 3000));
    const right = await open(336);
    try {
      const a = left[Symbol.asyncIterator]();
      const b = right[Symbol.asyncIterator]();
      const loopFrames = left.info.loopFrames!;
      expect(loopFrames).toBe(795);
      for (let i = 0; i < 3; i++) {
        const [fa, fb] = await Promise.all([a.next(), b.next()]);
        const clock = Math.floor((Date.now() / 1000) * left.info.nativeFps!) % loopFrames;
        const gap = Math.abs(fa.value!.index - fb.value!.index);
        expect(Math.min(gap, loopFrames - gap)).toBeLessThanOrEqual(10);
        const lag = (clock - (fb.value!.index % loopFrames) + loopFrames) % loopFrames;
        expect(lag).toBeLessThanOrEqual(20);
      }
    } finally {
      await left.close();
      await right.close();
    }
  });
});
