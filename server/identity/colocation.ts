// Co-location evidence between cameras that share pixels: spec cameras with the same `source` and
// intersecting `roi`s (one video cut into virtual cameras) see the shared region with the same pixels, so
// two boxes that coincide there at the same time are one person, whatever their appearance.
// Each camera keeps a short ring of its recent frames; whichever camera's frame arrives second compares it
// with the other's frame of the same time (within toleranceMs). A pair of tracks that coincides in
// `minFrames` frames is reported once as linked. Cost per frame: O(tracks x tracks of each sharing camera).
import type { CameraSpec } from '@mei/contracts';

/** A camera's place in a shared pixel space: the space's name and the camera's rectangle in it. */
export interface CameraView {
  view: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Views of the cameras that share pixels with another camera of the job (others are left out). */
export function sharedViews(cameras: ReadonlyArray<Pick<CameraSpec, 'name' | 'source' | 'roi'>>): Record<string, CameraView> {
  const out: Record<string, CameraView> = {};
  cameras.forEach((a, i) => {
    if (!a.roi) return;
    for (const [j, b] of cameras.entries()) {
      if (i === j || !b.roi || a.source !== b.source || !intersect(rect(a.roi), rect(b.roi))) continue;
      out[a.name] = { view: a.source, ...rect(a.roi) };
      return;
    }
  });
  return out;
}

const rect = (r: NonNullable<CameraSpec['roi']>) => ({ x: r.x, y: r.y, w: r.width, h: r.height });

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

function intersect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const w = Math.min(a.x + a.w, b.x + b.w) - x;
  const h = Math.min(a.y + a.h, b.y + b.h) - y;
  return w > 0 && h > 0 ? { x, y, w, h } : null;
}

function iou(a: Rect, b: Rect): number {
  const i = intersect(a, b);
  if (!i) return 0;
  const inter = i.w * i.h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

interface Entry<T> {
  item: T;
  /** The box in view pixels. */
  box: Rect;
}
interface RingFrame<T> {
  t: number;
  entries: Entry<T>[];
}

export interface ColocationOptions {
  /** Two frames are "the same time" within this (same source: identical timestamps). */
  toleranceMs?: number;
  /** IoU in the shared region (boxes clipped to it) for two boxes to coincide. */
  minIou?: number;
  /** Coinciding frames before a pair is linked. */
  minFrames?: number;
  /** How long a camera's frames wait for the other camera's frame of the same time. */
  windowMs?: number;
}

export class Colocation<T> {
  private readonly views: Map<string, CameraView>;
  private readonly rings = new Map<string, RingFrame<T>[]>();
  /** Coinciding-frame counts per pair; a linked pair stays at -1 so it is reported once. */
  private readonly pairs = new Map<string, { n: number; lastMs: number }>();
  private readonly options: Required<ColocationOptions>;

  constructor(
    views: Record<string, CameraView>,
    private readonly keyOf: (item: T) => number,
    options: ColocationOptions = {},
  ) {
    this.views = new Map(Object.entries(views));
    this.options = { toleranceMs: 40, minIou: 0.5, minFrames: 3, windowMs: 10_000, ...options };
  }

  /** Whether two cameras share pixels (so a person may be in both at once). */
  shares(a: string, b: string): boolean {
    const va = this.views.get(a);
    const vb = this.views.get(b);
    return !!va && !!vb && a !== b && va.view === vb.view && intersect(va, vb) !== null;
  }

  get enabled(): boolean {
    return this.views.size > 1;
  }

  /** One frame of a camera (boxes in its own pixels); returns pairs [this camera's item, other's item] just linked. */
  frame(camera: string, t: number, items: ReadonlyArray<{ item: T; box: Rect }>): Array<[T, T]> {
    const v = this.views.get(camera);
    if (!v) return [];
    const entries = items.map(({ item, box }) => ({ item, box: { x: box.x + v.x, y: box.y + v.y, w: box.w, h: box.h } }));
    const ring = this.rings.get(camera) ?? this.rings.set(camera, []).get(camera)!;
    let at = ring.length;
    while (at > 0 && ring[at - 1].t > t) at--; // a late (resent) batch: keep the ring in time order
    ring.splice(at, 0, { t, entries });
    while (ring.length && ring[0].t < t - this.options.windowMs) ring.shift();
    const linked: Array<[T, T]> = [];
    for (const [other, ov] of this.views) {
      if (other === camera || ov.view !== v.view) continue;
      const shared = intersect(v, ov);
      if (!shared) continue;
      const match = this.nearest(this.rings.get(other), t);
      if (!match) continue;
      for (const a of entries) {
        const ca = intersect(a.box, shared);
        if (!ca) continue;
        for (const b of match.entries) {
          const cb = intersect(b.box, shared);
          if (!cb || iou(ca, cb) < this.options.minIou) continue;
          const k = pairKey(this.keyOf(a.item), this.keyOf(b.item));
          const p = this.pairs.get(k) ?? this.pairs.set(k, { n: 0, lastMs: t }).get(k)!;
          p.lastMs = Math.max(p.lastMs, t);
          if (p.n < 0) continue;
          if (++p.n >= this.options.minFrames) {
            p.n = -1;
            linked.push([a.item, b.item]);
          }
        }
      }
    }
    return linked;
  }

  /** Forgets pair counts last updated before ms. */
  prune(ms: number): void {
    for (const [k, p] of this.pairs) if (p.lastMs < ms) this.pairs.delete(k);
  }

  private nearest(ring: RingFrame<T>[] | undefined, t: number): RingFrame<T> | undefined {
    if (!ring?.length) return undefined;
    // Binary search: rings are in time order (a camera's batches arrive in seq order).
    let lo = 0;
    let hi = ring.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ring[mid].t < t) lo = mid + 1;
      else hi = mid;
    }
    let best: RingFrame<T> | undefined;
    for (const i of [lo - 1, lo]) {
      const f = ring[i];
      if (f && Math.abs(f.t - t) <= this.options.toleranceMs && (!best || Math.abs(f.t - t) < Math.abs(best.t - t))) best = f;
    }
    return best;
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}
