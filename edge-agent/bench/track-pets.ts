// Benchmark: `mei-agent track` over PETS09-S2L1 (vtest.avi, 795 frames), then MOTA / IDF1 / HOTA against
// the MOT15 ground truth with MEI's evaluator. Prints a table, or one JSON line with --json.
//   node --import tsx edge-agent/bench/track-pets.ts [--json] [--reid osnet-x0.25-msmt17|hist|none]
//     [--detector yolox] [--input-size 544x416] [--max-frames N] [--threads 2]
// Needs MEI_MODEL_DIR and MEI_DATA_DIR (the shared models and data).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runTrackCommand } from '../src/cli/track.ts';
import { evaluateMot } from '../src/eval/evaluate.ts';
import { parseMot } from '../src/eval/motFormat.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    reid: { type: 'string', default: 'osnet-x0.25-msmt17' },
    detector: { type: 'string', default: 'yolox' },
    'input-size': { type: 'string' },
    'max-frames': { type: 'string' },
    threads: { type: 'string' },
  },
});
const dataDir = process.env.MEI_DATA_DIR;
if (!dataDir || !process.env.MEI_MODEL_DIR) throw new Error('set MEI_DATA_DIR and MEI_MODEL_DIR');
const dir = mkdtempSync(path.join(tmpdir(), 'mei-bench-'));
const out = path.join(dir, 'PETS09-S2L1.txt');
const args = ['--video', path.join(dataDir, 'vtest.avi'), '--out', out, '--detector', values.detector!, '--reid', values.reid!, '--json'];
if (values['input-size']) args.push('--input-size', values['input-size']);
if (values['max-frames']) args.push('--max-frames', values['max-frames']);
if (values.threads) args.push('--threads', values.threads);

// runTrackCommand prints its own JSON summary line; capture it.
const log = console.log;
let trackReport: Record<string, unknown> = {};
console.log = (line: string) => (trackReport = JSON.parse(line));
try {
  await runTrackCommand(args);
} finally {
  console.log = log;
}
let gtText = readFileSync(path.join(dataDir, 'PETS09-S2L1/gt/gt.txt'), 'utf8');
if (values['max-frames']) {
  const n = Number(values['max-frames']);
  gtText = gtText.split('\n').filter((l) => l && Number(l.split(',')[0]) <= n).join('\n');
}
const s = evaluateMot(parseMot(gtText, { kind: 'gt' }), parseMot(readFileSync(out, 'utf8'), { kind: 'res' })).summary;
rmSync(dir, { recursive: true, force: true });
const pct = (x: number) => Number((100 * x).toFixed(1));
const result = {
  sequence: 'PETS09-S2L1',
  detector: values.detector,
  inputSize: values['input-size'] ?? 'model default',
  reid: values.reid,
  ...trackReport,
  mota: pct(s.mota),
  idf1: pct(s.idf1),
  hota: pct(s.hota),
  fp: s.fp,
  fn: s.fn,
  idsw: s.idsw,
  ids: s.numPredIds,
};
if (values.json) console.log(JSON.stringify(result));
else console.table(result);
