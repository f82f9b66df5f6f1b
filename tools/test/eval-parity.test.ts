// Parity of the TypeScript evaluator with the reference implementations (py-motmetrics for CLEAR MOT and
// IDF1, TrackEval for HOTA) on MOTChallenge data. Needs the venv made by scripts/setup-reference.sh.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationToJson } from '../src/cli/eval.ts';
import { evaluateMot, readMotFile, writeMotFile, type MotBox } from '../src/mot-eval/index.ts';
import { perturbTracks, seededRandom } from './eval-fixtures.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const python = path.join(repoRoot, '.venv-ref/bin/python');
const harness = path.join(repoRoot, 'test/reference/motmetrics_ref.py');
const dataDir = process.env.MEI_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mei-eval-parity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RATIOS = ['mota', 'motp', 'idf1', 'idp', 'idr', 'precision', 'recall', 'hota', 'deta', 'assa', 'loca', 'detre', 'detpr', 'assre', 'asspr'];
const COUNTS = ['numFrames', 'numGt', 'numPred', 'numGtIds', 'tp', 'fp', 'fn', 'idsw', 'frag', 'mt', 'pt', 'ml', 'idtp', 'idfp', 'idfn'];

function dataFile(rel: string): string {
  const f = path.join(dataDir, rel);
  if (!existsSync(f)) throw new Error(`missing ${f}: set MEI_DATA_DIR to the shared data folder (e.g. /work/shared/data)`);
  return f;
}

function runReference(gt: string, res: string): Promise<Record<string, unknown>> {
  if (!existsSync(python)) {
    return Promise.reject(
      new Error(
        `reference venv missing (${python}). Create it from the repo root with: bash scripts/setup-reference.sh ` +
          '(python3 -m venv .venv-ref && .venv-ref/bin/pip install -r test/reference/requirements.txt)',
      ),
    );
  }
  return promisify(execFile)(python, [harness, gt, res], { timeout: 180_000, maxBuffer: 16 << 20 }).then(({ stdout }) => JSON.parse(stdout));
}

interface Case {
  gt: string;
  res: string;
  ref: Promise<Record<string, unknown>>;
}
const cases = new Map<string, Case>();

/** Writes a case's files and starts its (slow) reference run at once, so the runs overlap. */
function addCase(name: string, gt: string, res: string): void {
  const ref = runReference(gt, res);
  ref.catch(() => {}); // reported by the test that awaits it
  cases.set(name, { gt, res, ref });
}

beforeAll(() => {
  addCase('tud-campus', dataFile('TUD-Campus/gt.txt'), dataFile('TUD-Campus/test.txt'));
  addCase('tud-stadtmitte', dataFile('TUD-Stadtmitte/gt.txt'), dataFile('TUD-Stadtmitte/test.txt'));

  const petsGt = dataFile('PETS09-S2L1/gt/gt.txt');
  const gtRows = readMotFile(petsGt, { kind: 'gt' }).rows;
  const det = readMotFile(dataFile('PETS09-S2L1/det/det.txt'), { kind: 'res' }).rows;
  const detTracks = path.join(tmp, 'pets-det-tracks.txt');
  writeMotFile(detTracks, det.map((r, k): MotBox => ({ ...r, id: k + 1 })));
  addCase('pets-det', petsGt, detTracks);

  const perturbed = path.join(tmp, 'pets-perturbed.txt');
  writeMotFile(perturbed, perturbTracks(gtRows, 1));
  addCase('pets-perturbed', petsGt, perturbed);

  // MOT16+ layout built from the first 400 frames of PETS: some tracks become distractors
  // (static person 7, reflection 12) or non-pedestrians (car 3), some boxes flag 0.
  const rows = gtRows.filter((r) => r.frame <= 400);
  const rnd = seededRandom(2);
  const classOf = (id: number) => (id % 7 === 3 ? 7 : id % 11 === 5 ? 3 : id % 13 === 6 ? 12 : 1);
  const gt16 = path.join(tmp, 'pets-mot16-gt.txt');
  const res16 = path.join(tmp, 'pets-mot16-res.txt');
  writeMotFile(
    gt16,
    rows.map((r): MotBox => ({ ...r, conf: rnd() < 0.03 ? 0 : Math.trunc(r.conf), classId: classOf(r.id), visibility: Math.round(rnd() * 100) / 100 })),
    'mot16-gt',
  );
  writeMotFile(res16, perturbTracks(rows, 3));
  addCase('pets-mot16', gt16, res16);
});

/** Evaluates a case with both implementations and asserts equality; returns the TypeScript summary. */
async function expectParity(name: string): Promise<Record<string, number>> {
  const c = cases.get(name)!;
  const ts = evaluationToJson(evaluateMot(readMotFile(c.gt, { kind: 'gt' }), readMotFile(c.res, { kind: 'res' })));
  const ref = await c.ref;
  expect(ts.gtFormat).toBe(ref.gtFormat);
  for (const k of COUNTS) expect(ts[k], k).toBe(ref[k]);
  for (const k of RATIOS) {
    expect(typeof ref[k], `reference ${k}`).toBe('number');
    expect(Math.abs((ts[k] as number) - (ref[k] as number)), `${k}: ts ${ts[k]} vs reference ${ref[k]}`).toBeLessThanOrEqual(1e-6);
  }
  return ts as Record<string, number>;
}

describe('parity with py-motmetrics and TrackEval', () => {
  it('TUD-Campus: tracker results vs gt', async () => {
    await expectParity('tud-campus');
  });

  it('TUD-Stadtmitte: tracker results vs gt', async () => {
    await expectParity('tud-stadtmitte');
  });

  it('PETS09-S2L1: public detections as one-box tracks (4359 result ids)', async () => {
    const s = await expectParity('pets-det');
    expect(s.numPredIds).toBe(4359);
  });

  it('PETS09-S2L1: perturbed gt (jitter, drops, id switches, false positives)', async () => {
    const s = await expectParity('pets-perturbed');
    // The perturbation must exercise every error type, or the comparison proves little.
    expect(s.idsw).toBeGreaterThan(5);
    expect(s.fp).toBeGreaterThan(50);
    expect(s.fn).toBeGreaterThan(50);
    expect(s.frag).toBeGreaterThan(5);
  });

  it('PETS09-S2L1 as MOT16+ gt (classes, flags, visibility): distractor and class rules', async () => {
    const s = await expectParity('pets-mot16');
    expect(s.gtFormat).toBe('mot16');
    expect(s.removedDistractors).toBeGreaterThan(50);
    expect(s.numGtIds).toBeLessThan(s.numPredIds);
  });
});
