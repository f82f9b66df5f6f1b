import { describe, expect, it } from 'vitest';
import { nms } from '../src/detectors/nms.ts';
import { iou } from '../src/geometry.ts';

const det = (x: number, y: number, w: number, h: number, score: number) => ({ x, y, w, h, score, classId: 0 });

describe('iou', () => {
  it('is 1 for identical boxes, 0 for disjoint ones, and exact for a half overlap', () => {
    expect(iou(det(0, 0, 10, 10, 1), det(0, 0, 10, 10, 1))).toBe(1);
    expect(iou(det(0, 0, 10, 10, 1), det(20, 0, 10, 10, 1))).toBe(0);
    expect(iou(det(0, 0, 10, 10, 1), det(5, 0, 10, 10, 1))).toBeCloseTo(50 / 150, 10);
  });
});

describe('nms', () => {
  it('keeps the best of overlapping boxes and every separate box, best first', () => {
    const kept = nms([det(0, 0, 10, 20, 0.6), det(1, 1, 10, 20, 0.9), det(100, 0, 10, 20, 0.5), det(2, 0, 10, 20, 0.7)], 0.45);
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.5]);
  });

  it('keeps two people standing side by side whose boxes overlap less than the threshold', () => {
    const kept = nms([det(0, 0, 20, 50, 0.8), det(14, 0, 20, 50, 0.7)], 0.45);
    expect(kept).toHaveLength(2);
  });

  it('stops at maxDetections', () => {
    const many = Array.from({ length: 50 }, (_, i) => det(i * 30, 0, 20, 20, i / 50));
    expect(nms(many, 0.5, 10)).toHaveLength(10);
  });
});
