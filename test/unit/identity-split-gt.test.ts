// The virtual-camera ground truth of the multi-camera benchmark (scripts/mtmc/split-gt.ts).
import { describe, expect, it } from 'vitest';
import { concatCameras, DEFAULT_SPLIT, loadSplit, parseSplit, regionOverlaps, splitGroundTruth } from '../../scripts/mtmc/split-gt.ts';

const row = (frame: number, id: number, x: number, y: number, w: number, h: number, conf = 1) => ({ frame, id, x, y, w, h, conf, line: 0 });
const regions = parseSplit([
  { name: 'left', x: 0, y: 0, w: 432, h: 576 },
  { name: 'right', x: 336, y: 0, w: 432, h: 576 },
]);

describe('split ground truth', () => {
  it('gives a box to each camera holding at least half of it, in that camera’s clipped pixels, with the global id', () => {
    const split = splitGroundTruth(
      [
        row(1, 5, 100, 50, 40, 100), // left only
        row(1, 6, 360, 50, 40, 100), // in the overlap: both
        row(2, 7, 410, 50, 40, 100), // 22/40 inside left, all inside right
        row(2, 8, 420, 50, 40, 100, 0), // 12/40 inside left: right only; flag 0 kept for the evaluator
        row(3, 9, 740, 50, 40, 100), // 28/40 inside right (frame edge at 768)
      ],
      regions,
    );
    expect(split.get('left')).toEqual([
      { frame: 1, id: 5, x: 100, y: 50, w: 40, h: 100, conf: 1 },
      { frame: 1, id: 6, x: 360, y: 50, w: 40, h: 100, conf: 1 },
      { frame: 2, id: 7, x: 410, y: 50, w: 22, h: 100, conf: 1 },
    ]);
    expect(split.get('right')).toEqual([
      { frame: 1, id: 6, x: 24, y: 50, w: 40, h: 100, conf: 1 },
      { frame: 2, id: 7, x: 74, y: 50, w: 40, h: 100, conf: 1 },
      { frame: 2, id: 8, x: 84, y: 50, w: 40, h: 100, conf: 0 },
      { frame: 3, id: 9, x: 404, y: 50, w: 28, h: 100, conf: 1 },
    ]);
  });

  it('handles any number of cameras and finds which overlap', () => {
    const three = parseSplit([
      { name: 'a', x: 0, y: 0, w: 300, h: 576 },
      { name: 'b', x: 250, y: 0, w: 300, h: 576 },
      { name: 'c', x: 600, y: 0, w: 168, h: 576 },
    ]);
    expect(Object.fromEntries(regionOverlaps(three))).toEqual({ a: ['b'], b: ['a'], c: [] });
    const split = splitGroundTruth([row(1, 1, 560, 0, 60, 100), row(1, 2, 580, 0, 40, 100)], three);
    expect(split.get('a')).toEqual([]);
    expect(split.get('b')).toEqual([]); // b ends at 550
    // id 1: 20 of 60 px inside c (less than half); id 2: exactly half inside c counts.
    expect(split.get('c')).toEqual([{ frame: 1, id: 2, x: 0, y: 0, w: 20, h: 100, conf: 1 }]);
  });

  it('concatenates cameras into one sequence with disjoint frame ranges', () => {
    const per = new Map([
      ['left', [{ frame: 1, id: 3, x: 0, y: 0, w: 1, h: 1 }]],
      ['right', [{ frame: 1, id: 3, x: 0, y: 0, w: 1, h: 1 }, { frame: 795, id: 4, x: 0, y: 0, w: 1, h: 1 }]],
    ]);
    expect(concatCameras(per, ['left', 'right'], 795).map((b) => [b.frame, b.id])).toEqual([
      [1, 3],
      [796, 3],
      [1590, 4],
    ]);
    expect(() => concatCameras(per, ['left', 'right'], 10)).toThrow(/camera right: frame 795 outside 1\.\.10/);
  });

  it('validates split files, naming the entry and field', () => {
    expect(loadSplit(DEFAULT_SPLIT).map((r) => r.name)).toEqual(['left', 'right']);
    expect(() => parseSplit([])).toThrow(/non-empty JSON list/);
    expect(() => parseSplit([{ name: 'Left', x: 0, y: 0, w: 20, h: 20 }])).toThrow(/split\[0\]\.name/);
    expect(() => parseSplit([{ name: 'a', x: 0, y: 0, w: 20, h: 20 }, { name: 'a', x: 0, y: 0, w: 20, h: 20 }])).toThrow(/split\[1\]\.name: duplicate/);
    expect(() => parseSplit([{ name: 'a', x: 0, y: -1, w: 20, h: 20 }])).toThrow(/split\[0\]\.y: must be an integer >= 0/);
    expect(() => parseSplit([{ name: 'a', x: 0, y: 0, w: 8, h: 20 }])).toThrow(/split\[0\]\.w: must be an integer >= 16/);
    expect(() => parseSplit([{ name: 'a', x: 700, y: 0, w: 100, h: 20 }], 'split', { width: 768, height: 576 })).toThrow(/does not fit the 768x576 frame/);
  });
});
