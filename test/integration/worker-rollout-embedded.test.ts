// Rolling a worker in embedded mode: the real controllers on the real embedded store (Prisma + PGlite in a temp
// dir) with the real LocalProcessRuntime starting fixtures/recording-agent.mjs as the agent process (it writes
// its argv and pid, and exits on SIGTERM). In embedded mode no spec field goes into the process launch config
// (image and resources are Kubernetes-only; threads reaches the agent in its task), so the template change
// here is the server URL the agents are told to connect to.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobBackend } from '../../server/backends/types.ts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { silentLogger } from '../../server/log.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { LocalProcessRuntime } from '../../server/backends/embedded/worker-runtime.ts';
import { openDatabase, type Database } from '../../server/store/db.ts';
import { createEmbeddedBackend } from '../../server/backends/embedded/job-backend.ts';

const RECORDER = fileURLToPath(new URL('./fixtures/recording-agent.mjs', import.meta.url));
const KEY = 'default/roll';
const NODE = 'rec-roll';
const tmp = mkdtempSync(path.join(tmpdir(), 'mei-roll-'));
const recordDir = path.join(tmp, 'rec');
let db: Database;
let backend: JobBackend;
let runtime: LocalProcessRuntime;
let manager: ControllerManager;
// Nothing listens on either: the recording agent keeps retrying, which is all this test needs of it.
let serverUrl = 'http://127.0.0.1:9';

type Recorded = { event: string; payload: any; pid: number };
const events = (): Recorded[] => {
  const f = path.join(recordDir, `${NODE}.events.jsonl`);
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
};
const starts = () => events().filter((e) => e.event === 'start');
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');
const stored = async () => (await backend.get('default', 'roll'))!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  mkdirSync(recordDir);
  db = await openDatabase({ dataDir: path.join(tmp, 'db') });
  backend = createEmbeddedBackend(db);
  runtime = new LocalProcessRuntime({
    command: [process.execPath, RECORDER],
    env: { ...process.env, MEI_RECORD_DIR: recordDir },
    stopGraceMs: 2_000,
    log: silentLogger,
  });
  const tokens = new AgentTokens(Buffer.alloc(32, 4));
  manager = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => serverUrl, log: silentLogger });
  await manager.start();
});

afterAll(async () => {
  await manager?.stop();
  await runtime?.close();
  await backend?.close();
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('worker rollout in embedded mode (real store, real agent processes)', () => {
  it('an unchanged template keeps the process; a changed one replaces it (SIGTERM, then a new process with the new config); the job stays Running', async () => {
    await backend.create({
      metadata: { name: 'roll' },
      spec: { cameras: [{ name: 'cam', node: NODE, source: '/videos/cam.mp4' }], models: { detector: { decoder: 'yolox' } }, workers: [{ node: NODE, threads: 2 }] },
    });
    await expect.poll(async () => (await stored()).status?.phase, { timeout: 60_000 }).toBe('Running');
    await expect.poll(() => starts().length, { timeout: 60_000 }).toBe(1);
    const first = runtime.pid(KEY, NODE)!;
    expect(starts()[0]).toMatchObject({ pid: first, payload: { argv: ['run', '--server', 'http://127.0.0.1:9', '--node', NODE] } });
    expect((await stored()).status!.conditions!.find((c) => c.type === 'WorkersUpToDate')).toMatchObject({ status: 'True' });

    // Unchanged: requeues (as a resync would) and a spec change that is not part of the template.
    for (let i = 0; i < 5; i++) manager.main.enqueue(KEY);
    const j = await stored();
    j.spec.workers = [{ node: NODE, threads: 3 }];
    await backend.update(j);
    await expect.poll(async () => (await stored()).status?.observedGeneration, { timeout: 60_000 }).toBe(2);
    await sleep(500);
    expect(runtime.pid(KEY, NODE)).toBe(first);
    expect(alive(first)).toBe(true);
    expect(starts()).toHaveLength(1);

    // The server URL changes (the template does); a reconcile of the job sees it and rolls the worker.
    const phases = new Set<string | undefined>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        phases.add((await stored()).status?.phase);
        await sleep(20);
      }
    })();
    serverUrl = 'http://127.0.0.1:10';
    const t0 = Date.now();
    manager.main.enqueue(KEY);
    await expect.poll(() => starts().length, { timeout: 60_000 }).toBe(2);
    const rolledMs = Date.now() - t0;
    const second = runtime.pid(KEY, NODE)!;
    await expect.poll(async () => (await stored()).status!.conditions!.find((c) => c.type === 'WorkersUpToDate')?.status, { timeout: 60_000 }).toBe('True');
    await expect.poll(async () => (await stored()).status!.workers?.[0]?.phase, { timeout: 60_000 }).toBe('Running');
    sampling = false;
    await sampler;
    console.log(`[rollout] server URL change -> new agent process in ${rolledMs} ms; job phases seen meanwhile: ${[...phases].join(', ')}`);

    expect(second).not.toBe(first);
    expect(alive(first)).toBe(false);
    expect(starts()[1]).toMatchObject({ pid: second, payload: { argv: ['run', '--server', 'http://127.0.0.1:10', '--node', NODE] } });
    // The old process was asked to stop (SIGTERM) and was gone before the new one started.
    const order = events().map((e) => `${e.event}:${e.pid === first ? 'old' : e.pid === second ? 'new' : '?'}`).filter((e) => !e.startsWith('connect_error'));
    expect(order).toEqual(['start:old', 'SIGTERM:old', 'exit:old', 'start:new']);
    expect([...phases]).toEqual(['Running']);

    // Rolled once: more reconciles leave the new process alone.
    for (let i = 0; i < 5; i++) manager.main.enqueue(KEY);
    await sleep(500);
    expect(runtime.pid(KEY, NODE)).toBe(second);
    expect(starts()).toHaveLength(2);
  }, 600_000);
});
