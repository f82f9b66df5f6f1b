// CLEAR MOT metrics (Bernardin & Stiefelhagen 2008) with py-motmetrics' per-frame matching, so counts
// agree with it exactly:
//  1. a gt object keeps the result id it was last matched to while their IoU stays >= 0.5;
//  2. the remaining pairs with IoU >= 0.5 (distance 1 - IoU <= 0.5) are assigned to maximise the
//     number of matches, then minimise the summed distance;
//  3. a match whose result id differs from the object's previous match is an id switch;
//  4. unmatched gt boxes are misses (FN), unmatched result boxes false positives (FP).
import { assignWithForbidden } from '@mei/vision/lap';
import type { PreparedSequence } from './sequence.ts';

/** py-motmetrics' max_iou: a pair matches when 1 - IoU <= 0.5. */
export const CLEAR_MAX_DISTANCE = 0.5;

export interface ClearMetrics {
  numFrames: number;
  /** Correct matches plus id switches (py-motmetrics num_detections). */
  numMatches: number;
  numSwitches: number;
  numFalsePositives: number;
  numMisses: number;
  numFragmentations: number;
  numObjects: number;
  numPredictions: number;
  numUniqueObjects: number;
  mostlyTracked: number;
  partiallyTracked: number;
  mostlyLost: number;
  /** Sum of IoU over matches. */
  iouSum: number;
  mota: number;
  /** Mean IoU of matched pairs (MOTChallenge convention; py-motmetrics reports 1 - this). */
  motp: number;
  precision: number;
  recall: number;
}

/** Distance 1 - IoU of a pair, or NaN when the pair may not match. */
export function matchDistance(iou: number): number {
  const d = 1 - iou;
  return d > CLEAR_MAX_DISTANCE ? NaN : d;
}

const div = (a: number, b: number) => (b === 0 ? NaN : a / b);

export function computeClear(seq: PreparedSequence): ClearMetrics {
  const numGtIds = seq.gtIds.length;
  const lastMatch = new Int32Array(numGtIds).fill(-1); // result id an object was last matched to
  // Per object, one entry per frame it is present: 1 tracked, 0 missed.
  const history: number[][] = Array.from({ length: numGtIds }, () => []);
  let matches = 0;
  let switches = 0;
  let fp = 0;
  let fn = 0;
  let iouSum = 0;

  for (const f of seq.frames) {
    const ng = f.gt.length;
    const np = f.pred.length;
    const gtDone = new Uint8Array(ng);
    const predDone = new Uint8Array(np);
    const dist = new Float64Array(ng * np);
    for (let k = 0; k < dist.length; k++) dist[k] = matchDistance(f.iou[k]);
    const record = (i: number, j: number, isSwitch: boolean) => {
      gtDone[i] = 1;
      predDone[j] = 1;
      lastMatch[f.gt[i]] = f.pred[j];
      iouSum += f.iou[i * np + j];
      if (isSwitch) switches++;
      else matches++;
    };

    if (ng > 0 && np > 0) {
      // 1. Keep established correspondences that are still valid.
      for (let i = 0; i < ng; i++) {
        const prev = lastMatch[f.gt[i]];
        if (prev < 0) continue;
        const j = f.pred.findIndex((p, jj) => p === prev && !predDone[jj]);
        if (j >= 0 && !Number.isNaN(dist[i * np + j])) record(i, j, false);
      }
      // 2. Optimal assignment of the rest.
      const cost = new Float64Array(ng * np);
      for (let i = 0; i < ng; i++) {
        for (let j = 0; j < np; j++) cost[i * np + j] = gtDone[i] || predDone[j] ? NaN : dist[i * np + j];
      }
      const { rows, cols } = assignWithForbidden(cost, ng, np);
      for (let k = 0; k < rows.length; k++) {
        const i = rows[k];
        const j = cols[k];
        const prev = lastMatch[f.gt[i]];
        record(i, j, prev >= 0 && prev !== f.pred[j]);
      }
    }
    for (let i = 0; i < ng; i++) {
      history[f.gt[i]].push(gtDone[i]);
      if (!gtDone[i]) fn++;
    }
    for (let j = 0; j < np; j++) if (!predDone[j]) fp++;
  }

  let frag = 0;
  let mt = 0;
  let pt = 0;
  let ml = 0;
  for (const h of history) {
    const tracked = h.reduce((s, v) => s + v, 0);
    const ratio = tracked / h.length;
    if (ratio >= 0.8) mt++;
    else if (ratio >= 0.2) pt++;
    else ml++;
    // A fragmentation is a tracked -> missed transition inside the span from first to last tracked frame.
    const last = h.lastIndexOf(1);
    for (let k = 1; k <= last; k++) if (h[k - 1] === 1 && h[k] === 0) frag++;
  }

  const detections = matches + switches;
  return {
    numFrames: seq.frames.length,
    numMatches: detections,
    numSwitches: switches,
    numFalsePositives: fp,
    numMisses: fn,
    numFragmentations: frag,
    numObjects: seq.numGtDets,
    numPredictions: seq.numPredDets,
    numUniqueObjects: numGtIds,
    mostlyTracked: mt,
    partiallyTracked: pt,
    mostlyLost: ml,
    iouSum,
    mota: 1 - div(fn + switches + fp, seq.numGtDets),
    motp: div(iouSum, detections),
    precision: div(detections, detections + fp),
    recall: div(detections, seq.numGtDets),
  };
}
