// mei-eval: score a MOTChallenge results file against ground truth (CLEAR MOT, IDF1, HOTA).
import { parseArgs } from 'node:util';
import { evaluateMot, type MotEvaluation } from '../mot-eval/evaluate.ts';
import { MotFormatError, MotReadError, readMotFile, type MotFormatOption } from '../mot-eval/motFormat.ts';

export const EVAL_USAGE = `usage: mei-eval <gt.txt> <res.txt> [--json] [--frame-offset N] [--gt-format auto|mot15|mot16]

  gt.txt           MOTChallenge ground truth (frame,id,x,y,w,h,flag,...; flag 0 rows are not counted)
  res.txt          tracker results (frame,id,x,y,w,h,conf,...)
  --json           print the metrics as one JSON object (ratios as fractions 0..1, null when undefined)
  --frame-offset N add N to every results frame number (e.g. 1 for 0-based results)
  --gt-format F    ground-truth layout: mot15 (world coordinates), mot16 (class, visibility),
                   auto (default: 9 columns = mot16, otherwise mot15)
`;

export interface EvalIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIO: EvalIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

class UsageError extends Error {}

interface EvalArgs {
  gt: string;
  res: string;
  json: boolean;
  frameOffset: number;
  gtFormat: MotFormatOption;
}

function parseEvalArgs(argv: string[]): EvalArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        'frame-offset': { type: 'string' },
        'gt-format': { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 2) {
    throw new UsageError(`expected 2 files (gt.txt res.txt), got ${positionals.length}${positionals.length ? `: ${positionals.join(' ')}` : ''}`);
  }
  const offsetText = values['frame-offset'] ?? '0';
  if (!/^[+-]?\d+$/.test(offsetText)) throw new UsageError(`--frame-offset must be an integer, got '${offsetText}'`);
  const gtFormat = values['gt-format'];
  if (gtFormat !== 'auto' && gtFormat !== 'mot15' && gtFormat !== 'mot16') {
    throw new UsageError(`--gt-format must be auto, mot15 or mot16, got '${gtFormat}'`);
  }
  return { gt: positionals[0], res: positionals[1], json: values.json, frameOffset: Number(offsetText), gtFormat };
}

/** JSON-safe copy: NaN (undefined ratios) becomes null. */
function jsonNumber(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

export function evaluationToJson(ev: MotEvaluation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ev.summary)) out[k] = typeof v === 'number' ? jsonNumber(v) : v;
  out.hotaCurve = {
    alpha: ev.hota.alphas,
    hota: ev.hota.curve.hota,
    deta: ev.hota.curve.detA,
    assa: ev.hota.curve.assA,
    loca: ev.hota.curve.locA,
  };
  return out;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : 'n/a';
}

export function formatEvaluation(ev: MotEvaluation): string {
  const s = ev.summary;
  return [
    `frames ${s.numFrames}  gt boxes ${s.numGt} (${s.numGtIds} ids)  result boxes ${s.numPred} (${s.numPredIds} ids)  gt format ${s.gtFormat}`,
    `HOTA ${pct(s.hota)}  DetA ${pct(s.deta)}  AssA ${pct(s.assa)}  LocA ${pct(s.loca)}`,
    `MOTA ${pct(s.mota)}  MOTP ${pct(s.motp)}  IDF1 ${pct(s.idf1)}  IDP ${pct(s.idp)}  IDR ${pct(s.idr)}`,
    `TP ${s.tp}  FP ${s.fp}  FN ${s.fn}  IDSW ${s.idsw}  Frag ${s.frag}  MT ${s.mt}  PT ${s.pt}  ML ${s.ml}` +
      (s.removedDistractors ? `  (removed ${s.removedDistractors} result boxes on distractors)` : ''),
    '',
  ].join('\n');
}

/** Runs the command; returns the process exit code (0 ok, 2 bad arguments or input files). */
export function runEvalCommand(argv: string[], io: EvalIO = defaultIO): number {
  let args: EvalArgs | 'help';
  try {
    args = parseEvalArgs(argv);
  } catch (e) {
    io.stderr(`mei-eval: ${(e as Error).message}\n${EVAL_USAGE}`);
    return 2;
  }
  if (args === 'help') {
    io.stdout(EVAL_USAGE);
    return 0;
  }
  let ev: MotEvaluation;
  try {
    const gt = readMotFile(args.gt, { kind: 'gt', format: args.gtFormat });
    const res = readMotFile(args.res, { kind: 'res', frameOffset: args.frameOffset });
    ev = evaluateMot(gt, res);
  } catch (e) {
    // Unreadable files and malformed rows are the user's to fix; anything else is our bug.
    const userError = e instanceof MotFormatError || e instanceof MotReadError;
    io.stderr(`mei-eval: ${userError ? '' : 'internal error: '}${(e as Error).message}\n`);
    return userError ? 2 : 1;
  }
  io.stdout(args.json ? `${JSON.stringify(evaluationToJson(ev))}\n` : formatEvaluation(ev));
  return 0;
}
