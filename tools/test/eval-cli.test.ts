// mei-eval: argument handling, exit codes and output, in-process and through the real bin script.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { runEvalCommand } from '../src/cli/eval.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '../bin/mei-eval.mjs');
const dataDir = process.env.MEI_DATA_DIR ?? path.resolve(here, '../../../shared/data');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mei-eval-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runEvalCommand(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const gtFile = path.join(tmp, 'gt.txt');
writeFileSync(gtFile, '1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,10,10,1,-1,-1,-1\n3,1,0,0,10,10,1,-1,-1,-1\n');

describe('mei-eval (in process)', () => {
  it('prints JSON with fractions; --frame-offset aligns 0-based results', () => {
    const res0 = path.join(tmp, 'res0.txt');
    writeFileSync(res0, '0,4,0,0,10,10,0.9\n1,4,0,0,10,10,0.9\n2,4,0,0,10,5,0.9\n');
    const { code, out, err } = run([gtFile, res0, '--json', '--frame-offset', '1']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j).toMatchObject({ mota: 1, idf1: 1, fp: 0, fn: 0, idsw: 0, numGt: 3, numPred: 3 });
    expect(j.motp).toBeCloseTo(2.5 / 3, 12);
    for (const k of ['hota', 'deta', 'assa', 'loca', 'idp', 'idr']) {
      expect(j[k]).toBeGreaterThan(0);
      expect(j[k]).toBeLessThanOrEqual(1);
    }
    expect(j.hotaCurve.alpha).toHaveLength(19);
  });

  it('prints undefined ratios as null in JSON', () => {
    const empty = path.join(tmp, 'empty.txt');
    writeFileSync(empty, '');
    const j = JSON.parse(run([empty, gtFile, '--json']).out);
    expect(j.mota).toBeNull();
    expect(j.fp).toBe(3);
  });

  it('prints a readable table without --json', () => {
    const { code, out } = run([gtFile, gtFile]);
    expect(code).toBe(0);
    expect(out).toMatch(/MOTA 100\.00%  MOTP 100\.00%  IDF1 100\.00%/);
    expect(out).toMatch(/HOTA 100\.00%/);
  });

  it('exits 2 with the usage on bad arguments', () => {
    for (const argv of [[], [gtFile], [gtFile, gtFile, gtFile], [gtFile, gtFile, '--frame-offset', 'x'], [gtFile, gtFile, '--gt-format', 'mot99'], [gtFile, gtFile, '--bogus']]) {
      const { code, err } = run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(err).toMatch(/^mei-eval: .*\nusage: mei-eval <gt\.txt> <res\.txt>/s);
    }
  });

  it('exits 2 naming the file, line and column of a malformed row, or a missing file', () => {
    const bad = path.join(tmp, 'bad.txt');
    writeFileSync(bad, '1,1,0,0,10,10,1\n2,1,0,zero,10,10,1\n');
    let r = run([gtFile, bad]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`mei-eval: ${bad}:2:4: bb_top is not a number: 'zero'\n`);
    r = run([path.join(tmp, 'missing.txt'), bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot read ground-truth file .*missing\.txt: ENOENT/);
  });
});

describe('bin/mei-eval.mjs', () => {
  const exec = promisify(execFile);

  it('evaluates TUD-Campus with the same numbers as the in-process command', async () => {
    const gt = path.join(dataDir, 'TUD-Campus/gt.txt');
    const res = path.join(dataDir, 'TUD-Campus/test.txt');
    if (!existsSync(gt)) throw new Error(`missing ${gt}: set MEI_DATA_DIR to the shared data folder`);
    const { stdout } = await exec(process.execPath, [bin, gt, res, '--json']);
    expect(JSON.parse(stdout)).toEqual(JSON.parse(run([gt, res, '--json']).out));
  });

  it('exits 2 on bad arguments', async () => {
    const err = await exec(process.execPath, [bin]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/mei-eval: expected 2 files/);
  });
});
