// The first-start demo job (in-memory fake backend: no database).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../server/log.ts';
import { ensureDemoJob } from '../../server/demo-job.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

function dirWith(...files: string[]) {
  const d = mkdtempSync(path.join(tmpdir(), 'mei-demo-'));
  for (const f of files) writeFileSync(path.join(d, f), '');
  return d;
}
const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

describe('demo job (in-memory fake backend)', () => {
  it('creates default/demo: two ROI cameras of vtest.avi on edge-local, best models present', async () => {
    const backend = new MemoryBackend();
    await ensureDemoJob(backend, env({ MEI_DATA_DIR: dirWith('vtest.avi'), MEI_MODEL_DIR: dirWith('yolox_nano.onnx', 'osnet_x0_25_msmt17.onnx') }), silentLogger);
    const [job] = await backend.list();
    expect(job.metadata).toMatchObject({ namespace: 'default', name: 'demo' });
    expect(job.spec.mode).toBe('live');
    expect(job.spec.cameras.map((c) => [c.name, c.node, c.source, c.loop, c.roi!.x, c.roi!.x + c.roi!.width])).toEqual([
      ['left', 'edge-local', '${MEI_DATA_DIR}/vtest.avi', true, 0, 432],
      ['right', 'edge-local', '${MEI_DATA_DIR}/vtest.avi', true, 336, 768],
    ]);
    expect(job.spec.models).toMatchObject({ detector: { name: 'yolox-nano', decoder: 'yolox' }, reid: { kind: 'onnx', name: 'osnet-x0.25-msmt17' } });
    // Not again once a job exists.
    await ensureDemoJob(backend, env({ MEI_DATA_DIR: dirWith('vtest.avi') }), silentLogger);
    expect(await backend.list()).toHaveLength(1);
  });

  it('falls back to NanoDet and colour histograms without model files', async () => {
    const backend = new MemoryBackend();
    await ensureDemoJob(backend, env({ MEI_DATA_DIR: dirWith('vtest.avi'), MEI_MODEL_DIR: dirWith() }), silentLogger);
    expect((await backend.list())[0].spec.models).toMatchObject({ detector: { name: 'nanodet-m', decoder: 'nanodet' }, reid: { kind: 'histogram' } });
  });

  it('skips with a clear log line when the video is missing, and when MEI_DEMO=0', async () => {
    const backend = new MemoryBackend();
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    await ensureDemoJob(backend, env({ MEI_DATA_DIR: dirWith() }), log);
    expect(warnings.join()).toMatch(/demo job skipped: .*vtest\.avi not found/);
    await ensureDemoJob(backend, env({ MEI_DEMO: '0', MEI_DATA_DIR: dirWith('vtest.avi') }), log);
    expect(await backend.list()).toHaveLength(0);
  });
});
