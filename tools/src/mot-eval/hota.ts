// HOTA (Luiten et al., IJCV 2021) computed the way TrackEval's metrics/hota.py does:
//  - per frame, pairs are assigned to maximise (global id alignment score x IoU), where the alignment of
//    a gt id and a result id is their soft IoU-weighted co-occurrence Jaccard over the whole sequence;
//  - for each alpha in 0.05, 0.10, ..., 0.95 an assigned pair is a true positive when IoU >= alpha;
//  - DetA = TP / (TP + FN + FP); AssA = mean over TPs of the Jaccard of their ids' TP/FN/FP counts;
//    HOTA = sqrt(DetA * AssA); LocA = mean IoU of TPs;
//  - the reported values are the means over the 19 alphas.
import { linearSumAssignment } from '@mei/vision/lap';
import type { PreparedSequence } from './sequence.ts';

const EPS = 2.220446049250313e-16; // numpy float64 eps, as in TrackEval
/** np.arange(0.05, 0.99, 0.05): 19 thresholds, computed as start + k * step like numpy does. */
export const HOTA_ALPHAS: readonly number[] = Array.from({ length: 19 }, (_, k) => 0.05 + k * 0.05);

export interface HotaCurve {
  hota: number[];
  detA: number[];
  assA: number[];
  detRe: number[];
  detPr: number[];
  assRe: number[];
  assPr: number[];
  locA: number[];
  tp: number[];
  fn: number[];
  fp: number[];
}

export interface HotaMetrics {
  hota: number;
  detA: number;
  assA: number;
  detRe: number;
  detPr: number;
  assRe: number;
  assPr: number;
  locA: number;
  /** HOTA and LocA at the lowest alpha (TrackEval's HOTA(0), LocA(0)). */
  hota0: number;
  locA0: number;
  alphas: readonly number[];
  curve: HotaCurve;
}

const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function emptyCurve(n: number): HotaCurve {
  const z = () => new Array<number>(n).fill(0);
  return { hota: z(), detA: z(), assA: z(), detRe: z(), detPr: z(), assRe: z(), assPr: z(), locA: z(), tp: z(), fn: z(), fp: z() };
}

function summarise(c: HotaCurve): HotaMetrics {
  return {
    hota: mean(c.hota),
    detA: mean(c.detA),
    assA: mean(c.assA),
    detRe: mean(c.detRe),
    detPr: mean(c.detPr),
    assRe: mean(c.assRe),
    assPr: mean(c.assPr),
    locA: mean(c.locA),
    hota0: c.hota[0],
    locA0: c.locA[0],
    alphas: HOTA_ALPHAS,
    curve: c,
  };
}

function addTo(m: Map<number, number>, key: number, v: number): void {
  m.set(key, (m.get(key) ?? 0) + v);
}

export function computeHota(seq: PreparedSequence): HotaMetrics {
  const nAlpha = HOTA_ALPHAS.length;
  const c = emptyCurve(nAlpha);
  // TrackEval returns early (LocA 1, the rest 0) when either side has no boxes.
  if (seq.numPredDets === 0 || seq.numGtDets === 0) {
    c.locA.fill(1);
    if (seq.numPredDets === 0) c.fn.fill(seq.numGtDets);
    else c.fp.fill(seq.numPredDets);
    return summarise(c);
  }
  const np = seq.predIds.length;
  const gtCount = new Float64Array(seq.gtIds.length);
  const predCount = new Float64Array(np);
  // Sparse gt-id x result-id tables keyed by g * np + p: only co-occurring pairs are ever non-zero.
  const potential = new Map<number, number>();
  for (const f of seq.frames) {
    const ng = f.gt.length;
    const nf = f.pred.length;
    const rowSum = new Float64Array(ng);
    const colSum = new Float64Array(nf);
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nf; j++) {
        rowSum[i] += f.iou[i * nf + j];
        colSum[j] += f.iou[i * nf + j];
      }
    }
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nf; j++) {
        const s = f.iou[i * nf + j];
        const denom = colSum[j] + rowSum[i] - s;
        if (denom > EPS && s !== 0) addTo(potential, f.gt[i] * np + f.pred[j], s / denom);
      }
    }
    for (const g of f.gt) gtCount[g] += 1;
    for (const p of f.pred) predCount[p] += 1;
  }
  const alignment = (g: number, p: number): number => {
    const pm = potential.get(g * np + p) ?? 0;
    return pm / (gtCount[g] + predCount[p] - pm);
  };

  const matchCounts = Array.from({ length: nAlpha }, () => new Map<number, number>());
  const locSum = new Array<number>(nAlpha).fill(0);
  for (const f of seq.frames) {
    const ng = f.gt.length;
    const nf = f.pred.length;
    if (ng === 0 || nf === 0) {
      for (let a = 0; a < nAlpha; a++) {
        c.fp[a] += nf;
        c.fn[a] += ng;
      }
      continue;
    }
    const cost = new Float64Array(ng * nf);
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nf; j++) cost[i * nf + j] = -(alignment(f.gt[i], f.pred[j]) * f.iou[i * nf + j]);
    }
    const { rows, cols } = linearSumAssignment(cost, ng, nf);
    for (let a = 0; a < nAlpha; a++) {
      let n = 0;
      for (let k = 0; k < rows.length; k++) {
        const s = f.iou[rows[k] * nf + cols[k]];
        if (s >= HOTA_ALPHAS[a] - EPS) {
          n++;
          locSum[a] += s;
          addTo(matchCounts[a], f.gt[rows[k]] * np + f.pred[cols[k]], 1);
        }
      }
      c.tp[a] += n;
      c.fn[a] += ng - n;
      c.fp[a] += nf - n;
    }
  }

  for (let a = 0; a < nAlpha; a++) {
    let assA = 0;
    let assRe = 0;
    let assPr = 0;
    for (const [key, m] of matchCounts[a]) {
      const g = Math.floor(key / np);
      const p = key - g * np;
      assA += (m * m) / Math.max(1, gtCount[g] + predCount[p] - m);
      assRe += (m * m) / Math.max(1, gtCount[g]);
      assPr += (m * m) / Math.max(1, predCount[p]);
    }
    const tp = c.tp[a];
    c.assA[a] = assA / Math.max(1, tp);
    c.assRe[a] = assRe / Math.max(1, tp);
    c.assPr[a] = assPr / Math.max(1, tp);
    c.locA[a] = Math.max(1e-10, locSum[a]) / Math.max(1e-10, tp);
    c.detRe[a] = tp / Math.max(1, tp + c.fn[a]);
    c.detPr[a] = tp / Math.max(1, tp + c.fp[a]);
    c.detA[a] = tp / Math.max(1, tp + c.fn[a] + c.fp[a]);
    c.hota[a] = Math.sqrt(c.detA[a] * c.assA[a]);
  }
  return summarise(c);
}
