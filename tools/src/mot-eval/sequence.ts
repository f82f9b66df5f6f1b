// Turns a gt file and a results file into per-frame evaluation input: the boxes that count, ids relabelled
// to 0..n-1 and the gt x result IoU matrix of each frame (computed once, shared by all metrics).
// Filtering follows the MOTChallenge rules as TrackEval applies them:
//  - gt rows with flag 0 are not counted;
//  - MOT16+ gt: only class 1 (pedestrian) counts, and result boxes that match (IoU >= 0.5, optimal
//    assignment against all gt boxes of the frame) a distractor (person on vehicle, static person,
//    distractor, reflection) are removed before evaluation. MOT15 gt has no classes.
import { iou } from '@mei/vision/geometry';
import { linearSumAssignment } from '@mei/vision/lap';
import { MOT_CLASSES, MotFormatError, type MotFile, type MotRow } from './motFormat.ts';

const DISTRACTOR_CLASSES = new Set<number>([
  MOT_CLASSES.person_on_vehicle,
  MOT_CLASSES.static_person,
  MOT_CLASSES.distractor,
  MOT_CLASSES.reflection,
]);
const EPS = 2.220446049250313e-16; // numpy's float64 eps, used by TrackEval's thresholds

export interface FrameData {
  frame: number;
  /** Relabelled gt ids (0..numGtIds-1), in file order. */
  gt: Int32Array;
  /** Relabelled result ids (0..numPredIds-1), in file order. */
  pred: Int32Array;
  /** IoU of gt i with result j at i * pred.length + j. */
  iou: Float64Array;
}

export interface PreparedSequence {
  frames: FrameData[];
  /** Original gt id of each relabelled id. */
  gtIds: number[];
  /** Original result id of each relabelled id. */
  predIds: number[];
  numGtDets: number;
  numPredDets: number;
  /** Result boxes dropped because they covered a MOT16+ distractor. */
  removedDistractorPreds: number;
}

function groupByFrame(rows: readonly MotRow[]): Map<number, MotRow[]> {
  const m = new Map<number, MotRow[]>();
  for (const r of rows) {
    const list = m.get(r.frame);
    if (list) list.push(r);
    else m.set(r.frame, [r]);
  }
  return m;
}

function checkUniqueIds(file: MotFile, byFrame: Map<number, MotRow[]>): void {
  for (const [frame, rows] of byFrame) {
    const seen = new Map<number, number>();
    for (const r of rows) {
      const first = seen.get(r.id);
      if (first !== undefined) {
        throw new MotFormatError(file.source, r.line, 2, `id ${r.id} appears twice in frame ${frame} (also on line ${first}); ids must be unique per frame`);
      }
      seen.set(r.id, r.line);
    }
  }
}

function iouMatrix(a: readonly MotRow[], b: readonly MotRow[]): Float64Array {
  const m = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) m[i * b.length + j] = iou(a[i], b[j]);
  return m;
}

/** Result rows of one frame that survive MOT16+ distractor removal. */
function withoutDistractorMatches(gtAll: readonly MotRow[], preds: readonly MotRow[]): MotRow[] {
  if (gtAll.length === 0 || preds.length === 0 || !gtAll.some((g) => DISTRACTOR_CLASSES.has(g.classId ?? 1))) return [...preds];
  const sim = iouMatrix(gtAll, preds);
  // TrackEval: maximise IoU over pairs with IoU >= 0.5; other pairs score 0 and do not count as matched.
  const cost = new Float64Array(sim.length);
  for (let k = 0; k < sim.length; k++) cost[k] = sim[k] < 0.5 - EPS ? 0 : -sim[k];
  const { rows, cols } = linearSumAssignment(cost, gtAll.length, preds.length);
  const drop = new Set<number>();
  for (let k = 0; k < rows.length; k++) {
    if (-cost[rows[k] * preds.length + cols[k]] > EPS && DISTRACTOR_CLASSES.has(gtAll[rows[k]].classId ?? 1)) drop.add(cols[k]);
  }
  return preds.filter((_, j) => !drop.has(j));
}

function relabel(ids: Iterable<number>): Map<number, number> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  return new Map(sorted.map((id, k) => [id, k]));
}

export function prepareSequence(gt: MotFile, res: MotFile): PreparedSequence {
  const gtByFrame = groupByFrame(gt.rows);
  const resByFrame = groupByFrame(res.rows);
  checkUniqueIds(gt, gtByFrame);
  checkUniqueIds(res, resByFrame);

  const isMot16 = gt.format === 'mot16';
  const counted = (r: MotRow) => Math.trunc(r.conf) !== 0 && (!isMot16 || r.classId === MOT_CLASSES.pedestrian);
  const kept = new Map<number, { gt: MotRow[]; pred: MotRow[] }>();
  let removed = 0;
  for (const f of new Set([...gtByFrame.keys(), ...resByFrame.keys()])) {
    const gtAll = gtByFrame.get(f) ?? [];
    const predAll = resByFrame.get(f) ?? [];
    const pred = isMot16 ? withoutDistractorMatches(gtAll, predAll) : predAll;
    removed += predAll.length - pred.length;
    // A frame present in either file counts as evaluated even if nothing in it is (py-motmetrics' num_frames).
    kept.set(f, { gt: gtAll.filter(counted), pred });
  }
  const gtMap = relabel([...kept.values()].flatMap((k) => k.gt.map((r) => r.id)));
  const predMap = relabel([...kept.values()].flatMap((k) => k.pred.map((r) => r.id)));
  const frames: FrameData[] = [];
  let numGtDets = 0;
  let numPredDets = 0;
  for (const f of [...kept.keys()].sort((a, b) => a - b)) {
    const k = kept.get(f)!;
    numGtDets += k.gt.length;
    numPredDets += k.pred.length;
    frames.push({
      frame: f,
      gt: Int32Array.from(k.gt, (r) => gtMap.get(r.id)!),
      pred: Int32Array.from(k.pred, (r) => predMap.get(r.id)!),
      iou: iouMatrix(k.gt, k.pred),
    });
  }
  return {
    frames,
    gtIds: [...gtMap.keys()],
    predIds: [...predMap.keys()],
    numGtDets,
    numPredDets,
    removedDistractorPreds: removed,
  };
}
