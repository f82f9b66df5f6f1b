// The embedded WorkerRuntime with real child processes (a stand-in agent script, so no server is needed).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { MultiEdgeInference } from '@mei/contracts';
import { silentLogger } from '../../server/log.ts';
import { LocalProcessRuntime, agentCommandFromEnv } from '../../server/backends/embedded/worker-runtime.ts';

/** Next's types make NODE_ENV mandatory in ProcessEnv; these tests pass partial environments. */
const env = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

const FAKE_AGENT = fileURLToPath(new URL('./fixtures/fake-agent.mjs', import.meta.url));
const job = (uid = 'uid-1'): MultiEdgeInference => ({
  apiVersion: 'sedna.io/v1alpha1',
  kind: 'MultiEdgeInference',
  metadata: { name: 'j', namespace: 'ns', uid, resourceVersion: '1', generation: 1, creationTimestamp: '2025-01-01T00:00:00Z' },
  spec: { cameras: [], models: { detector: { decoder: 'yolox' } } },
});
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');

let runtime: LocalProcessRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

function makeRuntime(opts: Partial<ConstructorParameters<typeof LocalProcessRuntime>[0]> = {}) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mei-rt-')), 'out.jsonl');
  runtime = new LocalProcessRuntime({ command: [process.execPath, FAKE_AGENT], env: { ...process.env, MEI_TEST_OUT: out }, log: silentLogger, restartBaseMs: 20, restartMaxMs: 100, stopGraceMs: 300, ...opts });
  const records = () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);
  return { runtime, records };
}

describe('LocalProcessRuntime (real child processes)', () => {
  it('starts the agent with the token in its environment (not argv), is idempotent, and stops it on remove', async () => {
    const { runtime: rt, records } = makeRuntime();
    const changes: string[] = [];
    rt.watch((k) => changes.push(k));
    await rt.ensure({ job: job(), node: 'steady', token: 'secret-token', serverUrl: 'http://127.0.0.1:1' });
    await rt.ensure({ job: job(), node: 'steady', token: 'other', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(async () => (await rt.list('ns/j'))[0]?.phase).toBe('Running');
    await expect.poll(() => records().length).toBe(1);
    const [rec] = records();
    expect(rec.argv).toEqual(['run', '--server', 'http://127.0.0.1:1', '--node', 'steady']);
    expect(rec.token).toBe('secret-token');
    expect(readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8')).not.toContain('secret-token');
    expect(changes).toContain('ns/j');
    await rt.remove('ns/j');
    expect(alive(rec.pid)).toBe(false);
    expect(await rt.list()).toEqual([]);
  });

  it('restarts a crashing agent with backoff, counts restarts, and gives up as Failed', async () => {
    const { runtime: rt, records } = makeRuntime({ maxRestarts: 3 });
    await rt.ensure({ job: job(), node: 'crash', token: 't', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(async () => (await rt.list())[0]?.phase, { timeout: 60_000 }).toBe('Failed');
    const [w] = await rt.list();
    expect(w.restarts).toBe(3);
    expect(w.message).toMatch(/exited with code 1; gave up after 3 restarts/);
    expect(records()).toHaveLength(4);
  });

  it('an agent that exits 0 has Succeeded and is not restarted', async () => {
    const { runtime: rt, records } = makeRuntime();
    await rt.ensure({ job: job(), node: 'done', token: 't', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(async () => (await rt.list())[0]?.phase).toBe('Succeeded');
    await new Promise((r) => setTimeout(r, 200));
    expect(records()).toHaveLength(1);
    expect((await rt.list())[0].restarts).toBe(0);
  });

  it('kills an agent that ignores SIGTERM after the grace period', async () => {
    const { runtime: rt, records } = makeRuntime({ stopGraceMs: 300 });
    await rt.ensure({ job: job(), node: 'stubborn', token: 't', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(() => records().length).toBe(1);
    await new Promise((r) => setTimeout(r, 100)); // let it install its SIGTERM handler
    const t0 = Date.now();
    await rt.remove('ns/j', 'stubborn');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(alive(records()[0].pid)).toBe(false);
  });

  it('replaces the worker of an older job with the same name, and close() kills everything', async () => {
    const { runtime: rt, records } = makeRuntime();
    await rt.ensure({ job: job('old'), node: 'steady', token: 't', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(() => records().length).toBe(1);
    await rt.ensure({ job: job('new'), node: 'steady', token: 't', serverUrl: 'http://127.0.0.1:1' });
    await expect.poll(() => records().length).toBe(2);
    expect(alive(records()[0].pid)).toBe(false);
    expect((await rt.list())[0].jobUid).toBe('new');
    await rt.close();
    expect(alive(records()[1].pid)).toBe(false);
  });

  it('MEI_AGENT_COMMAND must be a JSON argv array', () => {
    expect(agentCommandFromEnv(env({}))).toBeUndefined();
    expect(agentCommandFromEnv(env({ MEI_AGENT_COMMAND: '["node","/x.mjs"]' }))).toEqual(['node', '/x.mjs']);
    expect(() => agentCommandFromEnv(env({ MEI_AGENT_COMMAND: 'node /x.mjs' }))).toThrow(/JSON array/);
    expect(() => agentCommandFromEnv(env({ MEI_AGENT_COMMAND: '[]' }))).toThrow(/JSON array/);
  });
});
