// Identity metrics (Ristani et al. 2016): one global one-to-one mapping of gt ids to result ids that
// maximises the number of frames where mapped pairs overlap with IoU >= 0.5 (IDTP). py-motmetrics solves
// the equivalent min-cost problem on an (ids+ids)^2 matrix; maximising IDTP on the gt x result matrix
// gives the same IDTP, IDFP and IDFN with a far smaller problem.
import { matchDistance } from './clear.ts';
import { linearSumAssignment } from '@mei/vision/lap';
import type { PreparedSequence } from './sequence.ts';

export interface IdentityMetrics {
  idtp: number;
  idfp: number;
  idfn: number;
  idf1: number;
  idp: number;
  idr: number;
  /** Result id (original label) assigned to each gt id (original label); unassigned ids are absent. */
  mapping: Map<number, number>;
}

const div = (a: number, b: number) => (b === 0 ? NaN : a / b);

export function computeIdentity(seq: PreparedSequence): IdentityMetrics {
  const ng = seq.gtIds.length;
  const np = seq.predIds.length;
  // overlap[g * np + p]: frames where gt id g and result id p overlap enough to match.
  const overlap = new Float64Array(ng * np);
  for (const f of seq.frames) {
    const n = f.pred.length;
    for (let i = 0; i < f.gt.length; i++) {
      for (let j = 0; j < n; j++) {
        if (!Number.isNaN(matchDistance(f.iou[i * n + j]))) overlap[f.gt[i] * np + f.pred[j]] += 1;
      }
    }
  }
  const cost = overlap.map((v) => -v);
  const { rows, cols } = linearSumAssignment(cost, ng, np);
  let idtp = 0;
  const mapping = new Map<number, number>();
  for (let k = 0; k < rows.length; k++) {
    const tp = overlap[rows[k] * np + cols[k]];
    if (tp > 0) {
      idtp += tp;
      mapping.set(seq.gtIds[rows[k]], seq.predIds[cols[k]]);
    }
  }
  const idfn = seq.numGtDets - idtp;
  const idfp = seq.numPredDets - idtp;
  return {
    idtp,
    idfp,
    idfn,
    idf1: div(2 * idtp, seq.numGtDets + seq.numPredDets),
    idp: div(idtp, idtp + idfp),
    idr: div(idtp, idtp + idfn),
    mapping,
  };
}
