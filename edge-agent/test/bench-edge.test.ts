import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA_DIR, MODEL_DIR } from '../../test/support/shared-data.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'scripts/bench-edge.ts');

function bench(args: string[], env: Record<string, string | undefined> = { MEI_MODEL_DIR: MODEL_DIR, MEI_DATA_DIR: DATA_DIR }) {
  return spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 100_000 });
}

describe('npm run bench:edge (scripts/bench-edge.ts)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'mei-bench-edge-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('--json on 12 frames of set a: stage timings, fps, CPU, metrics as fractions and machine facts', () => {
    const r = bench(['--json', '--sets', 'a', '--max-frames', '12', '--threads', '1', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.machine.cores).toBeGreaterThanOrEqual(1);
    expect(report.machine.node).toBe(process.version);
    expect(report.loadAverageStart).toHaveLength(3);
    expect(report.sets).toHaveLength(1);
    const s = report.sets[0];
    expect(s).toMatchObject({ set: 'a', frames: 12, reid: 'osnet-x0.25-msmt17', detectAhead: true, threads: { detector: 1, embedder: 1 } });
    for (const k of ['source', 'detect', 'detectWait', 'embed', 'track', 'total']) expect(s.msPerFrame[k]).toBeGreaterThanOrEqual(0);
    expect(s.msPerFrame.detect).toBeGreaterThan(0);
    expect(s.fps).toBeGreaterThan(0);
    expect(s.cpuMsPerFrame).toBeGreaterThan(0);
    // Fractions, and a real tracking result on the first 12 frames (tracks confirm after 3 hits).
    for (const k of ['mota', 'idf1', 'hota']) {
      expect(s.metrics[k]).toBeGreaterThan(0.3);
      expect(s.metrics[k]).toBeLessThanOrEqual(1);
    }
    expect(s.loadAverage.start).toHaveLength(3);
    // The kept files: tracks, and detections in MOT det format (frame,-1,x,y,w,h,score,...).
    const dets = readFileSync(path.join(out, 'a-det.txt'), 'utf8').trim().split('\n');
    expect(Math.max(...dets.map((l) => Number(l.split(',')[0])))).toBe(12);
    expect(dets.every((l) => l.split(',')[1] === '-1' && Number(l.split(',')[6]) >= 0.1)).toBe(true);
    expect(readFileSync(path.join(out, 'a.txt'), 'utf8').split('\n').length).toBeGreaterThan(12);
  });

  it('exits 2 naming the bad option or the missing variable', () => {
    const bad = bench(['--sets', 'a,z']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--sets: unknown model set 'z' \(known: a, q, qd, qr, b\)/);
    const frames = bench(['--max-frames', '0']);
    expect(frames.status).toBe(2);
    expect(frames.stderr).toMatch(/--max-frames must be an integer in \[1, 1000000\], got '0'/);
    const noData = bench(['--sets', 'b'], { MEI_DATA_DIR: '' });
    expect(noData.status).toBe(2);
    expect(noData.stderr).toMatch(/set MEI_DATA_DIR/);
  });
});
