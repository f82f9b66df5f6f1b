// Box arithmetic shared by the detector (NMS) and the tracker (association).
import type { Box } from './types.ts';

export function area(b: Box): number {
  return Math.max(0, b.w) * Math.max(0, b.h);
}

/** Intersection over union of two boxes (0 when they do not overlap or both are empty). */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  if (iw <= 0) return 0;
  const ih = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (ih <= 0) return 0;
  const inter = iw * ih;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Clip a box to a width x height frame; the result may be empty (w or h 0). */
export function clipBox(b: Box, width: number, height: number): Box {
  const x1 = Math.min(Math.max(b.x, 0), width);
  const y1 = Math.min(Math.max(b.y, 0), height);
  const x2 = Math.min(Math.max(b.x + b.w, 0), width);
  const y2 = Math.min(Math.max(b.y + b.h, 0), height);
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}
