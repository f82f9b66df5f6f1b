// Rolling workers whose template changed: the main controller's reconcile against the in-memory fake backend
// and a fake runtime that hashes a template (mock: no processes or Pods; the kube and integration tests run the
// real runtimes). The fake's template is the worker's image; "bad" images are refused by its dry run.
import { beforeEach, describe, expect, it } from 'vitest';
import type { MultiEdgeInference, MultiEdgeInferenceInput } from '@mei/contracts';
import type { ObservedWorker, WorkerLaunch } from '../../server/backends/types.ts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { AgentRegistry } from '../../server/controllers/agent-registry.ts';
import { JobInformer } from '../../server/controller-runtime/job-informer.ts';
import { silentLogger } from '../../server/log.ts';
import { MainController } from '../../server/controllers/main-controller.ts';
import { WorkerCache } from '../../server/controller-runtime/worker-cache.ts';
import { ROLL_WAIT_MS, TEMPLATE_RECHECK_MS } from '../../server/controllers/worker-rollout.ts';
import { templateHashOf, type TemplatedWorkerRuntime } from '../../server/backends/worker-template.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

const KEY = 'default/roll';

/** FakeRuntime plus template hashes, an optional slow (Pod-like) removal, a dry run and recorded events. */
class TemplatingFakeRuntime extends FakeRuntime implements TemplatedWorkerRuntime {
  readonly events: Array<{ type: string; reason: string; message: string }> = [];
  checks = 0;
  /** Pod-like: remove() only marks the worker terminating; finishRemovals() makes it go. */
  slowRemoval = false;
  /** ensure() of this image throws as an apiserver that refuses the pod would (the dry run does not see it). */
  uncreatableImage?: string;

  templateHash(launch: WorkerLaunch): string {
    return templateHashOf({ image: this.image(launch), server: launch.serverUrl });
  }
  private image(launch: WorkerLaunch): string {
    return launch.job.spec.workers?.find((w) => w.node === launch.node)?.image ?? 'mei/edge-agent:1';
  }
  async checkTemplate(launch: WorkerLaunch): Promise<string | undefined> {
    this.checks++;
    return this.image(launch).includes('bad') ? `image "${this.image(launch)}" is not allowed` : undefined;
  }
  recordEvent(_job: unknown, type: string, reason: string, message: string): void {
    this.events.push({ type, reason, message });
  }
  override async ensure(launch: WorkerLaunch): Promise<void> {
    const id = `${KEY}@${launch.node}`;
    if (!this.workers.has(id) && this.image(launch) === this.uncreatableImage) throw new Error(`pods "x" is forbidden: exceeded quota`);
    const created = !this.workers.has(id);
    await super.ensure(launch);
    if (created) Object.assign(this.workers.get(id)!, { templateHash: this.templateHash(launch), image: this.image(launch) });
  }
  override async remove(jobKey: string, node?: string): Promise<void> {
    if (!this.slowRemoval) return super.remove(jobKey, node);
    this.removeCalls.push({ jobKey, node });
    for (const w of this.workers.values()) if (w.jobKey === jobKey && (node === undefined || w.node === node)) Object.assign(w, { terminating: true });
  }
  async finishRemovals(): Promise<void> {
    for (const [id, w] of this.workers) if (w.terminating) this.workers.delete(id);
  }
  imageOf(node: string): string | undefined {
    return (this.workers.get(`${KEY}@${node}`) as unknown as { image?: string } | undefined)?.image;
  }
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function jobInput(): MultiEdgeInferenceInput {
  return {
    metadata: { name: 'roll', namespace: 'default' },
    spec: {
      cameras: [
        { name: 'cam-a', node: 'node-1', source: '/videos/a.mp4' },
        { name: 'cam-b', node: 'node-2', source: '/videos/b.mp4' },
      ],
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      workers: [{ node: 'node-1', image: 'mei/edge-agent:1', threads: 2 }],
    },
  };
}

let backend: MemoryBackend;
let runtime: TemplatingFakeRuntime;
let main: MainController;
let now: number;
let serverUrl: string;

beforeEach(async () => {
  backend = new MemoryBackend();
  runtime = new TemplatingFakeRuntime();
  runtime.initialPhase = 'Running';
  const jobs = new JobInformer(backend);
  const workers = new WorkerCache(runtime, silentLogger);
  await jobs.start();
  await workers.start();
  now = Date.parse('2025-06-01T12:00:00Z');
  serverUrl = 'http://127.0.0.1:9';
  const tokens = new AgentTokens(Buffer.alloc(32, 3));
  main = new MainController({ backend, runtime, jobs, workers, agents: new AgentRegistry(), mintToken: (c) => tokens.mint(c), serverUrl: () => serverUrl, now: () => now, log: silentLogger });
});

async function reconcile() {
  const r = await main.reconcile(KEY);
  await settle();
  return r;
}
const stored = async () => (await backend.get('default', 'roll'))!;
const condition = async (type: string) => (await stored()).status?.conditions?.find((c) => c.type === type);

async function editSpec(mutate: (j: MultiEdgeInference) => void) {
  const j = await stored();
  mutate(j);
  await backend.update(j);
  await settle();
}
const setImage = (image: string) =>
  editSpec((j) => {
    j.spec.workers = [{ ...j.spec.workers![0], image }];
  });

/** A created job whose workers run (status Running, WorkersUpToDate True). */
async function runningJob() {
  await backend.create(jobInput());
  await reconcile();
  await reconcile();
  expect((await stored()).status?.phase).toBe('Running');
  expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'True', reason: 'AllWorkersUpToDate' });
}

describe('rolling workers whose template changed (fake runtime)', () => {
  it('a new image replaces that node\'s worker once; other nodes, a no-op reconcile and a spec change outside the template leave workers alone', async () => {
    await runningJob();
    const before = await runtime.list(KEY);
    await setImage('mei/edge-agent:2');
    await reconcile();
    expect(runtime.removeCalls).toEqual([{ jobKey: KEY, node: 'node-1' }]);
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:2');
    const after = await runtime.list(KEY);
    const hashOf = (ws: ObservedWorker[], node: string) => ws.find((w) => w.node === node)!.templateHash;
    expect(hashOf(after, 'node-1')).not.toBe(hashOf(before, 'node-1'));
    expect(hashOf(after, 'node-2')).toBe(hashOf(before, 'node-2'));
    expect(runtime.events.map((e) => e.reason)).toEqual(['WorkerTemplateChanged']);
    expect((await stored()).status?.phase).toBe('Running');
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'True' });

    // Nothing changed: no removal, no status write.
    const writes = { ...backend.calls };
    now += 5_000;
    await reconcile();
    await reconcile();
    expect(runtime.removeCalls).toHaveLength(1);
    expect(backend.calls).toEqual(writes);

    // threads reaches the agent in its task, not in the template: no restart.
    await editSpec((j) => (j.spec.workers![0].threads = 4));
    await reconcile();
    expect(runtime.removeCalls).toHaveLength(1);
    expect((await stored()).status?.observedGeneration).toBe(3);
  });

  it('a change of the server URL (part of the template) rolls every worker', async () => {
    await runningJob();
    serverUrl = 'http://10.0.0.5:3000';
    await reconcile();
    expect(runtime.removeCalls.map((c) => c.node).sort()).toEqual(['node-1', 'node-2']);
    expect(runtime.ensureCalls.at(-1)!.serverUrl).toBe('http://10.0.0.5:3000');
  });

  it('Pod-like removal: waits for the old worker to go (job stays Running, WorkersUpToDate False), announces once, then creates the new one', async () => {
    await runningJob();
    runtime.slowRemoval = true;
    await setImage('mei/edge-agent:2');
    expect(await reconcile()).toEqual({ requeueAfterMs: ROLL_WAIT_MS });
    const s = (await stored()).status!;
    expect(s.phase).toBe('Running');
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'False', reason: 'RollingWorkers', message: 'Replacing the worker on node-1: its template changed.' });
    expect(await condition('Ready')).toMatchObject({ status: 'False', reason: 'RollingWorkers' });

    // Reconciled again while it terminates: remove() again (idempotent), no second announcement, nothing created.
    const node1Ensures = () => runtime.ensureCalls.filter((l) => l.node === 'node-1').length;
    const ensured = node1Ensures();
    await reconcile();
    expect(runtime.removeCalls).toHaveLength(2);
    expect(runtime.events.filter((e) => e.reason === 'WorkerTemplateChanged')).toHaveLength(1);
    expect(node1Ensures()).toBe(ensured);
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:1');

    await runtime.finishRemovals();
    await reconcile();
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:2');
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'True' });
    expect((await stored()).status?.phase).toBe('Running');
  });

  it('a template the dry run refuses keeps the old worker, says why, and is checked again only after TEMPLATE_RECHECK_MS or a new spec', async () => {
    await runningJob();
    await setImage('registry.example/bad image');
    expect(await reconcile()).toEqual({ requeueAfterMs: TEMPLATE_RECHECK_MS });
    expect(runtime.removeCalls).toEqual([]);
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:1');
    const cond = await condition('WorkersUpToDate');
    expect(cond).toMatchObject({ status: 'False', reason: 'TemplateRejected' });
    expect(cond!.message).toContain('image "registry.example/bad image" is not allowed');
    expect(await condition('Ready')).toMatchObject({ status: 'False', reason: 'TemplateRejected' });
    expect((await stored()).status?.phase).toBe('Running');
    expect(runtime.events.map((e) => [e.type, e.reason])).toEqual([['Warning', 'WorkerTemplateRejected']]);

    const checks = runtime.checks;
    now += 1_000;
    expect(await reconcile()).toEqual({ requeueAfterMs: TEMPLATE_RECHECK_MS - 1_000 });
    expect(runtime.checks).toBe(checks);
    now += TEMPLATE_RECHECK_MS;
    await reconcile();
    expect(runtime.checks).toBe(checks + 1);
    expect(runtime.events).toHaveLength(1); // the same refusal is not announced again

    await setImage('mei/edge-agent:3');
    await reconcile();
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:3');
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'True' });
  });

  it('a worker that cannot be created: the error is in WorkersUpToDate, the other node still gets its worker, the reconcile fails (backoff)', async () => {
    runtime.uncreatableImage = 'mei/edge-agent:huge';
    const input = jobInput();
    input.spec.workers = [{ node: 'node-1', image: 'mei/edge-agent:huge' }];
    await backend.create(input);
    await expect(main.reconcile(KEY)).rejects.toThrow('exceeded quota');
    await settle();
    expect(runtime.workers.has(`${KEY}@node-2`)).toBe(true);
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'False', reason: 'WorkerCreateFailed', message: 'Creating the worker on node-1 failed: pods "x" is forbidden: exceeded quota' });

    await setImage('mei/edge-agent:1');
    await reconcile();
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:1');
    expect(await condition('WorkersUpToDate')).toMatchObject({ status: 'True' });
  });

  it('a finished (Succeeded) worker is not rolled: its history partition is done', async () => {
    await runningJob();
    runtime.set(KEY, 'node-1', { phase: 'Succeeded' });
    await settle();
    await setImage('mei/edge-agent:2');
    await reconcile();
    expect(runtime.removeCalls).toEqual([]);
    expect(runtime.imageOf('node-1')).toBe('mei/edge-agent:1');
  });

  it('a worker without a hash (made before hashes existed) is rolled to the current template', async () => {
    await runningJob();
    delete runtime.workers.get(`${KEY}@node-2`)!.templateHash;
    await reconcile();
    expect(runtime.removeCalls).toEqual([{ jobKey: KEY, node: 'node-2' }]);
    expect(runtime.workers.get(`${KEY}@node-2`)!.templateHash).toBeDefined();
  });
});
