// Virtual cameras cut from one source (spec.cameras[].roi): boxes that coincide in the pixels two cameras
// share are one person, whatever the embeddings say; simultaneous presence elsewhere is two people.
import { describe, expect, it } from 'vitest';
import { createIdentityService, sharedViews, type IdentityEvent } from '../../server/identity/index.ts';
import { interleave, noisy, person, rng, sceneBatches, type ScriptedTrack } from './identity-scenes.ts';

const X = person(21);
const Z = person(22);
const looks = (p: Float32Array, seed: number) => {
  const r = rng(seed);
  return () => noisy(p, 0.25, r);
};
// One 768x576 video cut in two; pixels x 336..431 are in both.
const source = 'file:///data/vtest.avi';
const left = { name: 'left', node: 'n1', source, roi: { x: 0, y: 0, width: 432, height: 576 } };
const right = { name: 'right', node: 'n2', source, roi: { x: 336, y: 0, width: 432, height: 576 } };
/** A box at source pixel x (camera pixels = source - roi.x). */
const at = (sourceX: number, roiX: number) => () => ({ x: sourceX - roiX, y: 200, w: 40, h: 100 });

function run(tracks: ScriptedTrack[], cameras: Array<typeof left>, order: 'time' | { seed: number } = 'time') {
  const svc = createIdentityService({ cameras, crossCamera: { matchThreshold: 0.35 } });
  const events: IdentityEvent[] = [];
  for (const b of interleave(sceneBatches(tracks, { cameras: cameras.map((c) => c.name) }), order)) events.push(...svc.ingest(b));
  return { svc, events };
}

describe('IdentityService: cameras sharing pixels', () => {
  it('sharedViews finds cameras of one source whose regions intersect', () => {
    const far = { name: 'far', node: 'n3', source, roi: { x: 600, y: 0, width: 168, height: 576 } };
    const other = { name: 'other', node: 'n3', source: 'rtsp://cam/2', roi: { x: 0, y: 0, width: 432, height: 576 } };
    const whole = { name: 'whole', node: 'n3', source };
    expect(sharedViews([left, right, far, other, whole])).toEqual({
      left: { view: source, x: 0, y: 0, w: 432, h: 576 },
      right: { view: source, x: 336, y: 0, w: 432, h: 576 },
      far: { view: source, x: 600, y: 0, w: 168, h: 576 },
    });
    expect(sharedViews([left, far])).toEqual({});
  });

  it('boxes coinciding in the shared pixels are one person even when the embeddings disagree', () => {
    // right sees the person cut by its region edge: its embedding looks like someone else.
    const tracks: ScriptedTrack[] = [
      { camera: 'left', localId: 1, fromMs: 0, toMs: 6000, appearance: looks(X, 1), box: at(380, 0) },
      { camera: 'right', localId: 2, fromMs: 0, toMs: 6000, appearance: looks(Z, 2), box: at(380, 336) },
    ];
    for (const order of ['time', { seed: 5 }] as const) {
      const { svc, events } = run(tracks, [left, right], order);
      expect(svc.identityOf('right', 2), JSON.stringify(order)).toBe(svc.identityOf('left', 1));
      expect(events).toContainEqual(expect.objectContaining({ type: 'merged', into: 'P1' }));
      expect(events.filter((e) => e.type === 'split')).toEqual([]);
      expect(svc.stats().colocatedPairs).toBe(1);
    }
  });

  it('a lookalike seen at the same time elsewhere in the other camera is another person', () => {
    const tracks: ScriptedTrack[] = [
      { camera: 'left', localId: 1, fromMs: 0, toMs: 6000, appearance: looks(X, 3), box: at(100, 0) },
      { camera: 'right', localId: 2, fromMs: 0, toMs: 6000, appearance: looks(X, 4), box: at(700, 336), firstEmbedAfterMs: 1000 },
    ];
    // Declared overlapping too (as the benchmark does): shared pixels still say where the person must be.
    const shared = run(tracks, [{ ...left, overlaps: ['right'] } as typeof left, right]).svc;
    expect(shared.identityOf('right', 2)).not.toBe(shared.identityOf('left', 1));
    // Separate sources declared overlapping: nothing says where the person is, so appearance decides.
    const declared = run(tracks, [{ ...left, source: 'a', overlaps: ['right'] } as typeof left, { ...right, source: 'b' }]).svc;
    expect(declared.identityOf('right', 2)).toBe(declared.identityOf('left', 1));
  });

  it('hands a person walking from one region into the other to the same identity', () => {
    // Source x moves from 300 to 460 over 4 s: in left until x+w passes 432, in right from x 336 on.
    const walk = (t: number) => 300 + (160 * t) / 4000;
    const tracks: ScriptedTrack[] = [
      { camera: 'left', localId: 1, fromMs: 0, toMs: 2500, appearance: looks(X, 5), box: (t) => ({ x: walk(t), y: 200, w: 40, h: 100 }) },
      { camera: 'right', localId: 7, fromMs: 1000, toMs: 4000, appearance: looks(Z, 6), box: (t) => ({ x: walk(t) - 336, y: 200, w: 40, h: 100 }) },
    ];
    const { svc } = run(tracks, [left, right]);
    expect(svc.identityOf('right', 7)).toBe(svc.identityOf('left', 1));
  });
});
