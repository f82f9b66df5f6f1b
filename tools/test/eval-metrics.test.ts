// Hand-made sequences whose CLEAR / identity / HOTA values can be worked out on paper.
import { describe, expect, it } from 'vitest';
import { evaluateMot, parseMot, type MotEvaluation } from '../src/mot-eval/index.ts';

type B = [frame: number, id: number, x: number, y: number, w: number, h: number, ...rest: number[]];
const text = (rows: B[]) => rows.map((r) => r.join(',')).join('\n');
function run(gt: B[], res: B[], gtFormat: 'auto' | 'mot15' | 'mot16' = 'auto'): MotEvaluation {
  return evaluateMot(parseMot(text(gt), { kind: 'gt', format: gtFormat }), parseMot(text(res), { kind: 'res' }));
}
const gt1 = (frames: number[], x = 0): B[] => frames.map((f) => [f, 1, x, 0, 10, 10, 1, -1, -1, -1]);

describe('MOT metrics on hand-made sequences', () => {
  it('a perfect tracker scores 1 everywhere', () => {
    const gt: B[] = [];
    for (let f = 1; f <= 5; f++) {
      gt.push([f, 1, 10 * f, 0, 10, 20, 1, -1, -1, -1], [f, 2, 100, 5 * f, 12, 30, 1, -1, -1, -1]);
    }
    const s = run(gt, gt.map((r) => [r[0], r[1] + 40, r[2], r[3], r[4], r[5]])).summary;
    expect(s).toMatchObject({ mota: 1, motp: 1, idf1: 1, idp: 1, idr: 1, hota: 1, deta: 1, assa: 1, loca: 1 });
    expect(s).toMatchObject({ numGt: 10, numPred: 10, tp: 10, fp: 0, fn: 0, idsw: 0, frag: 0, mt: 2, pt: 0, ml: 0 });
  });

  it('one id switch: MOTA 3/4, IDF1 1/2, AssA 1/2', () => {
    const gt = gt1([1, 2, 3, 4]);
    const res: B[] = [[1, 7, 0, 0, 10, 10], [2, 7, 0, 0, 10, 10], [3, 8, 0, 0, 10, 10], [4, 8, 0, 0, 10, 10]];
    const s = run(gt, res).summary;
    expect(s).toMatchObject({ idsw: 1, fp: 0, fn: 0, tp: 4, mota: 0.75, idtp: 2, idf1: 0.5, idp: 0.5, idr: 0.5 });
    expect(s.deta).toBe(1);
    expect(s.assa).toBeCloseTo(0.5, 12);
    expect(s.hota).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('one false positive: MOTA 1/2, IDF1 4/5, DetA 2/3', () => {
    const gt = gt1([1, 2]);
    const res: B[] = [[1, 3, 0, 0, 10, 10], [1, 9, 50, 50, 10, 10], [2, 3, 0, 0, 10, 10]];
    const s = run(gt, res).summary;
    expect(s).toMatchObject({ fp: 1, fn: 0, idsw: 0, mota: 0.5, idf1: 0.8, idr: 1 });
    expect(s.idp).toBeCloseTo(2 / 3, 12);
    expect(s.deta).toBeCloseTo(2 / 3, 12);
    expect(s.assa).toBe(1);
    expect(s.hota).toBeCloseTo(Math.sqrt(2 / 3), 12);
  });

  it('IoU exactly 0.5 matches, just below does not', () => {
    expect(run(gt1([1]), [[1, 1, 0, 0, 10, 5]]).summary).toMatchObject({ tp: 1, fp: 0, fn: 0, motp: 0.5 });
    expect(run(gt1([1]), [[1, 1, 0, 0, 10, 4.9]]).summary).toMatchObject({ tp: 0, fp: 1, fn: 1, mota: -1 });
  });

  it('keeps an established match while it stays valid, as py-motmetrics does', () => {
    // Frame 2: result 5 overlaps B perfectly and A with IoU 2/3; a fresh assignment would pick B,
    // but A was matched to 5 in frame 1 and that match is still valid.
    const gt: B[] = [[1, 1, 0, 0, 10, 10], [2, 1, 0, 0, 10, 10], [2, 2, 2, 0, 10, 10]];
    const res: B[] = [[1, 5, 0, 0, 10, 10], [2, 5, 2, 0, 10, 10]];
    const s = run(gt, res).summary;
    expect(s).toMatchObject({ tp: 2, fn: 1, fp: 0, idsw: 0 });
    expect(s.motp).toBeCloseTo((1 + 2 / 3) / 2, 12);
  });

  it('counts fragmentations inside the tracked span and classifies MT/PT/ML', () => {
    const frames = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const tracked = [1, 2, 3, 6, 7, 8]; // missed 4-5 (one fragmentation) and 9-10 (after the last match: none)
    const gt = [...gt1(frames), ...frames.map((f): B => [f, 2, 100, 0, 10, 10]), ...frames.map((f): B => [f, 3, 200, 0, 10, 10])];
    const res: B[] = [
      ...tracked.map((f): B => [f, 1, 0, 0, 10, 10]),
      ...frames.map((f): B => [f, 2, 100, 0, 10, 10]),
      ...[1].map((f): B => [f, 3, 200, 0, 10, 10]),
    ];
    const s = run(gt, res).summary;
    expect(s).toMatchObject({ frag: 1, mt: 1, pt: 1, ml: 1, fn: 4 + 9, idsw: 0 });
  });

  it('HOTA averages over alpha: IoU 0.6 is a hit for the 12 thresholds up to 0.60', () => {
    const ev = run(gt1([1]), [[1, 1, 0, 0, 10, 6]]);
    expect(ev.hota.curve.tp).toEqual([...Array(12).fill(1), ...Array(7).fill(0)]);
    expect(ev.summary.deta).toBeCloseTo(12 / 19, 12);
    expect(ev.summary.hota).toBeCloseTo(12 / 19, 12);
    // TrackEval counts LocA as 1 at thresholds without any match.
    expect(ev.summary.loca).toBeCloseTo((12 * 0.6 + 7) / 19, 12);
  });

  it('gt rows with flag 0 are not counted', () => {
    const gt: B[] = [[1, 1, 0, 0, 10, 10, 1, -1, -1, -1], [1, 2, 50, 0, 10, 10, 0, -1, -1, -1], [2, 2, 50, 0, 10, 10, 0, -1, -1, -1]];
    const s = run(gt, [[1, 1, 0, 0, 10, 10]]).summary;
    // Frame 2 holds only an ignored box: still a frame of the sequence, as py-motmetrics counts it.
    expect(s).toMatchObject({ numGt: 1, numGtIds: 1, fn: 0, mota: 1, numFrames: 2 });
  });

  it('MOT16+ gt: only pedestrians count, results on distractors are removed', () => {
    const gt: B[] = [
      [1, 1, 0, 0, 10, 10, 1, 1, 1], // pedestrian
      [1, 2, 50, 0, 10, 10, 1, 7, 0.5], // static person: distractor
      [1, 3, 100, 0, 10, 10, 1, 3, 1], // car: not evaluated, not a distractor
      [1, 4, 150, 0, 10, 10, 0, 1, 0.1], // pedestrian marked ignore
    ];
    const res: B[] = [[1, 1, 0, 0, 10, 10], [1, 2, 50, 0, 10, 10], [1, 3, 100, 0, 10, 10]];
    const s = run(gt, res).summary;
    expect(s).toMatchObject({ gtFormat: 'mot16', numGt: 1, numPred: 2, removedDistractors: 1, tp: 1, fp: 1, fn: 0 });
  });

  it('empty results: every gt box is missed', () => {
    const s = run(gt1([1, 2, 3]), []).summary;
    expect(s).toMatchObject({ fn: 3, fp: 0, tp: 0, mota: 0, idf1: 0, hota: 0, deta: 0 });
    expect(s.motp).toBeNaN();
  });

  it('empty ground truth leaves MOTA undefined (NaN) and counts every box as FP', () => {
    const s = run([], [[1, 1, 0, 0, 10, 10]]).summary;
    expect(s.fp).toBe(1);
    expect(s.mota).toBeNaN();
  });

  it('rejects an id used twice in one frame, naming both lines', () => {
    expect(() => run(gt1([1]), [[1, 4, 0, 0, 10, 10], [1, 4, 20, 0, 10, 10]])).toThrow(/results:2:2: id 4 appears twice in frame 1 \(also on line 1\)/);
  });
});
