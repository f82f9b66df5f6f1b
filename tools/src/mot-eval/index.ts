// MOTChallenge evaluation: file I/O, CLEAR MOT, identity (IDF1) and HOTA metrics.
export { MOT_CLASSES, MotFormatError, MotReadError, formatMotRows, parseMot, readMotFile, writeMotFile } from './motFormat.ts';
export type { MotBox, MotFile, MotFormatOption, MotGtFormat, MotRow, ParseMotOptions } from './motFormat.ts';
export { assignWithForbidden, linearSumAssignment, type Assignment } from '@mei/vision/lap';
export { prepareSequence, type FrameData, type PreparedSequence } from './sequence.ts';
export { CLEAR_MAX_DISTANCE, computeClear, type ClearMetrics } from './clear.ts';
export { computeIdentity, type IdentityMetrics } from './identity.ts';
export { HOTA_ALPHAS, computeHota, type HotaCurve, type HotaMetrics } from './hota.ts';
export { evaluateMot, type MotEvaluation, type MotSummary } from './evaluate.ts';
