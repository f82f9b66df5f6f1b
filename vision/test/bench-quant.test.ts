// npm run bench:quant (scripts/bench-quant.ts): real YOLOX-nano sessions at two fitted sizes. CI has no int8
// file (users make it with scripts/quantize-models.sh), so the float file stands in for both columns.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MODEL_DIR } from '../../test/support/shared-data.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FLOAT = path.join(MODEL_DIR, 'yolox_nano.onnx');

function bench(args: string[], env: Record<string, string | undefined> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench-quant.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
}

describe('npm run bench:quant', () => {
  it('--json: CPU and wall ms per run for each file at each size, relative to the first file', () => {
    const r = bench(['--json', '--files', `${FLOAT},${FLOAT}`, '--sizes', '416x320,352x256', '--reps', '2', '--rounds', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ threads: 1, runsPerFile: 2 });
    expect(report.loadAverage.start).toHaveLength(3);
    expect(report.rows.map((x: { size: string }) => x.size)).toEqual(['416x320', '416x320', '352x256', '352x256']);
    for (const row of report.rows) {
      expect(row.file).toBe(FLOAT);
      expect(row.cpuMsPerRun).toBeGreaterThan(0);
      expect(row.wallMsPerRun).toBeGreaterThan(0);
    }
    expect(report.rows[0].vsFirst).toBe(1);
  });

  it('exits 2 naming the bad flag or the missing file', () => {
    const size = bench(['--files', FLOAT, '--sizes', '400x300']);
    expect(size.status).toBe(2);
    expect(size.stderr).toMatch(/--sizes: each size must be WxH, multiples of 32 from 64, got '400x300'/);
    const missing = bench([], { MEI_MODEL_DIR: path.join(ROOT, 'no-such-dir') });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--files: .*no-such-dir\/yolox_nano\.onnx not found \(MEI_MODEL_DIR must hold the float and the int8 detector/);
    const none = bench([], { MEI_MODEL_DIR: '' });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--files: give the detector files, or set MEI_MODEL_DIR/);
  });
});
