// The controllers on the real embedded store (Prisma + PGlite in a temp dir) with a fake worker runtime
// (mock: no processes): watch-driven reconciles, finalizers, and status writes racing another writer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobBackend } from '../../server/backends/types.ts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { silentLogger } from '../../server/log.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { updateStatusWithRetry } from '../../server/controllers/status.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mei-ctrl-store-'));
let db: Database;
let backend: JobBackend;
let runtime: FakeRuntime;
let manager: ControllerManager;

beforeAll(async () => {
  db = await openDatabase({ dataDir: path.join(tmp, 'db') });
  backend = createEmbeddedBackend(db);
  runtime = new FakeRuntime();
  const tokens = new AgentTokens(Buffer.alloc(32, 1));
  manager = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => 'http://127.0.0.1:9', log: silentLogger });
  await manager.start();
});

afterAll(async () => {
  await manager?.stop();
  await backend?.close();
  await db?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const get = () => backend.get('default', 'stored');

describe('controllers on the embedded store (fake runtime)', () => {
  it('create -> workers + finalizer + Running; status survives a racing writer; delete -> gone', async () => {
    await backend.create({
      metadata: { name: 'stored' },
      spec: { cameras: [{ name: 'a', node: 'n1', source: '/a.mp4' }, { name: 'b', node: 'n2', source: '/b.mp4' }], models: { detector: { decoder: 'yolox' } } },
    });
    await expect.poll(async () => (await get())?.status?.phase, { timeout: 60_000 }).toBe('Pending');
    expect((await get())!.metadata.finalizers).toEqual(['sedna.io/multiedgeinference']);
    expect([...runtime.workers.values()].map((w) => w.node).sort()).toEqual(['n1', 'n2']);

    // Another writer owns status.identities and writes it concurrently with the controllers.
    const racing = (async () => {
      for (let i = 1; i <= 15; i++) {
        await updateStatusWithRetry(backend, (await get())!, (s) => ({ ...s, identities: i }));
      }
    })();
    runtime.set('default/stored', 'n1', { phase: 'Running' });
    runtime.set('default/stored', 'n2', { phase: 'Running' });
    await racing;
    await expect
      .poll(async () => {
        const s = (await get())?.status;
        return [s?.phase, s?.identities, s?.conditions?.find((c) => c.type === 'WorkersRunning')?.status];
      }, { timeout: 60_000 })
      .toEqual(['Running', 15, 'True']);

    await backend.delete('default', 'stored');
    await expect.poll(get, { timeout: 60_000 }).toBeUndefined();
    expect(runtime.workers.size).toBe(0);
  });
});
