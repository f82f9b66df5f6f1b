import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrackCommand } from '../src/cli/track.ts';
import { iou } from '@mei/vision/geometry';
import { loadPetsGt, modelEnv, VTEST } from '../../test/support/shared-data.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/mei-agent.mjs');

describe('mei-agent track', () => {
  let dir: string;
  const savedEnv = { ...process.env };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mei-track-'));
    Object.assign(process.env, modelEnv());
  });
  afterAll(() => {
    process.env = savedEnv;
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a valid MOTChallenge file for the first 50 frames of PETS09-S2L1 that covers the people there', async () => {
    const out = path.join(dir, 'res.txt');
    const code = await runTrackCommand(['--video', VTEST, '--out', out, '--max-frames', '50', '--reid', 'osnet-x0.25-msmt17', '--json']);
    expect(code).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(','));
    expect(rows.length).toBeGreaterThan(100);
    const ids = new Set<number>();
    let lastFrame = 0;
    for (const r of rows) {
      expect(r).toHaveLength(10);
      const [frame, id, x, y, w, h, score, a, b, c] = r.map(Number);
      expect(Number.isInteger(frame) && frame >= 1 && frame <= 50).toBe(true);
      expect(frame).toBeGreaterThanOrEqual(lastFrame); // sorted by frame
      lastFrame = frame;
      expect(Number.isInteger(id) && id >= 1).toBe(true);
      expect(w > 0 && h > 0 && Number.isFinite(x) && Number.isFinite(y)).toBe(true);
      expect(score > 0 && score <= 1).toBe(true);
      expect([a, b, c]).toEqual([-1, -1, -1]);
      ids.add(id);
    }
    // Each id at most once per frame.
    const keys = rows.map((r) => `${r[0]}:${r[1]}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Against the ground truth of frames 10..50 (after tracks are confirmed): most people are covered by a track.
    const gt = loadPetsGt();
    let covered = 0;
    let total = 0;
    for (let f = 10; f <= 50; f++) {
      const mine = rows.filter((r) => Number(r[0]) === f).map((r) => ({ x: +r[2], y: +r[3], w: +r[4], h: +r[5] }));
      for (const g of gt.get(f) ?? []) {
        total++;
        if (mine.some((m) => iou(m, g) >= 0.5)) covered++;
      }
    }
    expect(covered / total).toBeGreaterThanOrEqual(0.75);
    // Few people are in view: identities must not multiply.
    expect(ids.size).toBeLessThanOrEqual(12);
  });

  it('runs from the bin with exit code 2 and usage on bad flags, 1 with the field on a bad model', () => {
    const env = { ...process.env, ...modelEnv() };
    const bad = spawnSync(process.execPath, [BIN, 'track', '--video', VTEST], { env, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--out is required/);
    const model = spawnSync(process.execPath, [BIN, 'track', '--video', VTEST, '--out', path.join(dir, 'x.txt'), '--reid', 'nope-net'], { env, encoding: 'utf8' });
    expect(model.status).toBe(1);
    expect(model.stderr).toMatch(/spec\.models\.reid\.name: unknown reid model 'nope-net'/);
    const unknown = spawnSync(process.execPath, [BIN, 'frobnicate'], { env, encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
