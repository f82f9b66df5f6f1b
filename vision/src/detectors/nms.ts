// Greedy non-maximum suppression (class-agnostic: MEI keeps one class).
import { iou } from '../geometry.ts';
import type { Detection } from '../types.ts';

/** Keeps the highest-scoring boxes, dropping any box whose IoU with a kept one exceeds `iouThreshold`. */
export function nms<T extends Detection>(dets: T[], iouThreshold: number, maxDetections = 300): T[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length && kept.length < maxDetections; i++) {
    if (suppressed[i]) continue;
    const d = sorted[i];
    kept.push(d);
    for (let j = i + 1; j < sorted.length; j++) {
      if (!suppressed[j] && iou(d, sorted[j]) > iouThreshold) suppressed[j] = 1;
    }
  }
  return kept;
}
