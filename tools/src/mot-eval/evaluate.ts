// One call from two MOTChallenge files to every metric; ratios are fractions 0..1 (NaN when undefined,
// e.g. MOTA of an empty ground truth).
import { computeClear, type ClearMetrics } from './clear.ts';
import { computeHota, type HotaMetrics } from './hota.ts';
import { computeIdentity, type IdentityMetrics } from './identity.ts';
import type { MotFile, MotGtFormat } from './motFormat.ts';
import { prepareSequence } from './sequence.ts';

export interface MotSummary {
  gtFormat: MotGtFormat;
  numFrames: number;
  /** Counted gt boxes / result boxes (after flag, class and distractor filtering). */
  numGt: number;
  numPred: number;
  numGtIds: number;
  numPredIds: number;
  mota: number;
  motp: number;
  idf1: number;
  idp: number;
  idr: number;
  hota: number;
  deta: number;
  assa: number;
  loca: number;
  detre: number;
  detpr: number;
  assre: number;
  asspr: number;
  precision: number;
  recall: number;
  tp: number;
  fp: number;
  fn: number;
  idsw: number;
  frag: number;
  mt: number;
  pt: number;
  ml: number;
  idtp: number;
  idfp: number;
  idfn: number;
  removedDistractors: number;
}

export interface MotEvaluation {
  summary: MotSummary;
  clear: ClearMetrics;
  identity: IdentityMetrics;
  hota: HotaMetrics;
}

export function evaluateMot(gt: MotFile, res: MotFile): MotEvaluation {
  if (gt.kind !== 'gt' || res.kind !== 'res') throw new TypeError('evaluateMot(gt, res): pass the ground truth first, then the results');
  const seq = prepareSequence(gt, res);
  const clear = computeClear(seq);
  const identity = computeIdentity(seq);
  const hota = computeHota(seq);
  return {
    summary: {
      gtFormat: gt.format,
      numFrames: clear.numFrames,
      numGt: seq.numGtDets,
      numPred: seq.numPredDets,
      numGtIds: seq.gtIds.length,
      numPredIds: seq.predIds.length,
      mota: clear.mota,
      motp: clear.motp,
      idf1: identity.idf1,
      idp: identity.idp,
      idr: identity.idr,
      hota: hota.hota,
      deta: hota.detA,
      assa: hota.assA,
      loca: hota.locA,
      detre: hota.detRe,
      detpr: hota.detPr,
      assre: hota.assRe,
      asspr: hota.assPr,
      precision: clear.precision,
      recall: clear.recall,
      tp: clear.numMatches,
      fp: clear.numFalsePositives,
      fn: clear.numMisses,
      idsw: clear.numSwitches,
      frag: clear.numFragmentations,
      mt: clear.mostlyTracked,
      pt: clear.partiallyTracked,
      ml: clear.mostlyLost,
      idtp: identity.idtp,
      idfp: identity.idfp,
      idfn: identity.idfn,
      removedDistractors: seq.removedDistractorPreds,
    },
    clear,
    identity,
    hota,
  };
}
