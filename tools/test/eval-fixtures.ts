// Deterministic test inputs for the evaluation tests: a seeded PRNG and a "tracker" that damages
// ground truth in known ways (jitter, dropped boxes, id switches, false positives).
import type { MotBox, MotRow } from '../src/mot-eval/index.ts';
import { seededRandom } from '../../test/support/random.ts';

export { seededRandom };

/**
 * Results derived from gt rows: boxes jittered (IoU mostly 0.5..0.95), 8% dropped, 4% shifted off
 * target (a miss plus a false positive), every fourth track changes id once, two tracks swap ids for a
 * stretch, and short false-positive tracks appear.
 */
export function perturbTracks(gt: readonly MotRow[], seed: number): MotBox[] {
  const rnd = seededRandom(seed);
  const ids = [...new Set(gt.map((r) => r.id))].sort((a, b) => a - b);
  const frames = gt.map((r) => r.frame);
  const first = Math.min(...frames);
  const last = Math.max(...frames);
  const switchAt = new Map(ids.map((id) => [id, first + Math.floor(rnd() * (last - first + 1))]));
  const [swapA, swapB] = ids;
  const swapFrom = first + Math.floor((last - first) / 3);
  const swapTo = swapFrom + Math.floor((last - first) / 10);
  const out: MotBox[] = [];
  for (const r of gt) {
    if (rnd() < 0.08) continue;
    let id = r.id + 1000;
    if (r.id % 4 === 1 && r.frame >= switchAt.get(r.id)!) id = r.id + 2000;
    if (r.frame >= swapFrom && r.frame <= swapTo && (r.id === swapA || r.id === swapB)) id = (r.id === swapA ? swapB : swapA) + 1000;
    const off = rnd() < 0.04 ? 0.7 * r.w : 0;
    out.push({
      frame: r.frame,
      id,
      x: r.x + off + (rnd() - 0.5) * 0.3 * r.w,
      y: r.y + (rnd() - 0.5) * 0.3 * r.h,
      w: r.w * (1 + (rnd() - 0.5) * 0.2),
      h: r.h * (1 + (rnd() - 0.5) * 0.2),
      conf: Math.round(rnd() * 1000) / 1000,
    });
  }
  let fpId = 5000;
  for (let f = first; f <= last; f++) {
    if (rnd() >= 0.05) continue;
    const len = 1 + Math.floor(rnd() * 6);
    const x = rnd() * 700;
    const y = rnd() * 450;
    fpId++;
    for (let k = 0; k < len && f + k <= last; k++) out.push({ frame: f + k, id: fpId, x: x + 3 * k, y, w: 30, h: 80, conf: 0.3 });
  }
  return out;
}
