// Reconcile logic of the three controllers against the in-memory fake backend and fake runtime (mock: no
// database, no processes). The integration test runs the same controllers on the real store.
import { beforeEach, describe, expect, it } from 'vitest';
import type { AgentState, MultiEdgeInference, MultiEdgeInferenceInput, TaskAssignment, TaskStop } from '@mei/contracts';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { AgentRegistry, type AgentLink } from '../../server/controllers/agent-registry.ts';
import { DownstreamController, TASK_RESEND_MS } from '../../server/controllers/downstream-controller.ts';
import { JobInformer } from '../../server/controller-runtime/job-informer.ts';
import { silentLogger } from '../../server/log.ts';
import { FINALIZER, MainController, STOP_GRACE_MS } from '../../server/controllers/main-controller.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { ReportCache } from '../../server/controller-runtime/report-cache.ts';
import { HEARTBEAT_STALE_MS, UpstreamController } from '../../server/controllers/upstream-controller.ts';
import { WorkerCache } from '../../server/controller-runtime/worker-cache.ts';
import { FakeRuntime } from '../support/fake-runtime.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const KEY = 'default/track';

function jobInput(cameras: Array<[string, string]> = [['cam-a', 'node-1'], ['cam-b', 'node-2'], ['cam-c', 'node-1']], mode: 'live' | 'history' = 'live'): MultiEdgeInferenceInput {
  return {
    metadata: { name: 'track', namespace: 'default' },
    spec: {
      mode,
      cameras: cameras.map(([name, node]) => ({ name, node, source: `/videos/${name}.mp4` })),
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      workers: [{ node: 'node-1', threads: 3, spoolBytes: 1_048_576 }],
    },
  };
}

function fakeLink(registry: AgentRegistry, node: string, job: MultiEdgeInference, id = `sock-${node}`) {
  const sent: { tasks: TaskAssignment[]; stops: TaskStop[] } = { tasks: [], stops: [] };
  const link: AgentLink = {
    id,
    jobKey: KEY,
    uid: job.metadata.uid,
    node,
    connectedAt: 0,
    ackedGeneration: -1,
    sendTask: (t) => sent.tasks.push(t),
    sendStop: (s) => sent.stops.push(s),
    disconnect: () => {},
  };
  registry.add(link);
  return { link, sent };
}

let backend: MemoryBackend;
let runtime: FakeRuntime;
let jobs: JobInformer;
let workers: WorkerCache;
let agents: AgentRegistry;
let reports: ReportCache;
let now: number;
let main: MainController;
let downstream: DownstreamController;
let upstream: UpstreamController;
const tokens = new AgentTokens(Buffer.alloc(32, 7));

beforeEach(async () => {
  backend = new MemoryBackend();
  runtime = new FakeRuntime();
  jobs = new JobInformer(backend);
  workers = new WorkerCache(runtime, silentLogger);
  agents = new AgentRegistry();
  reports = new ReportCache();
  await jobs.start();
  await workers.start();
  now = Date.parse('2025-06-01T12:00:00Z');
  const clock = () => now;
  main = new MainController({ backend, runtime, jobs, workers, agents, mintToken: (c) => tokens.mint(c), serverUrl: () => 'http://127.0.0.1:9', now: clock, log: silentLogger });
  downstream = new DownstreamController({ jobs, agents, now: clock, log: silentLogger });
  upstream = new UpstreamController({ backend, jobs, workers, agents, reports, now: clock, log: silentLogger });
});

async function reconcileMain() {
  const r = await main.reconcile(KEY);
  await settle();
  return r;
}
const stored = async () => (await backend.get('default', 'track'))!;

describe('main controller (in-memory fake backend)', () => {
  it('creates one worker per node with a token for that node, adds the finalizer, reports Pending', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    const nodes = [...runtime.workers.values()].map((w) => w.node).sort();
    expect(nodes).toEqual(['node-1', 'node-2']);
    for (const w of runtime.workers.values()) {
      const claims = tokens.verify(w.token);
      expect(claims).toMatchObject({ jobKey: KEY, uid: job.metadata.uid, node: w.node });
    }
    const j = await stored();
    expect(j.metadata.finalizers).toEqual([FINALIZER]);
    expect(j.status).toMatchObject({ phase: 'Pending', cameraCount: 3, observedGeneration: 1 });
    expect(j.status!.workers!.map((w) => [w.node, w.phase])).toEqual([
      ['node-1', 'Pending'],
      ['node-2', 'Pending'],
    ]);
    expect(j.status!.conditions!.find((c) => c.type === 'WorkersRunning')).toMatchObject({ status: 'False', reason: 'WorkersNotRunning' });
  });

  it('is idempotent: a second reconcile writes nothing and creates no second worker', async () => {
    await backend.create(jobInput());
    await reconcileMain();
    const writes = { ...backend.calls };
    const workerCount = runtime.workers.size;
    now += 5_000;
    await reconcileMain();
    expect(backend.calls).toEqual(writes);
    expect(runtime.workers.size).toBe(workerCount);
  });

  it('turns worker phases into phase, startTime and conditions; lastTransitionTime moves only on flips', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    const t0 = now;
    const before = (await stored()).status!.conditions!.find((c) => c.type === 'WorkersRunning')!;
    expect(before.lastTransitionTime).toBe(new Date(t0).toISOString());

    now += 1_000;
    runtime.set(KEY, 'node-1', { phase: 'Running' });
    await settle();
    await reconcileMain();
    let s = (await stored()).status!;
    expect(s.phase).toBe('Running');
    expect(s.startTime).toBe(new Date(now).toISOString());
    // Still False (1/2): same status, so the transition time stays, while the message updates.
    const partial = s.conditions!.find((c) => c.type === 'WorkersRunning')!;
    expect(partial).toMatchObject({ status: 'False', message: '1/2 workers running', lastTransitionTime: before.lastTransitionTime });

    now += 1_000;
    runtime.set(KEY, 'node-2', { phase: 'Running' });
    await settle();
    await reconcileMain();
    s = (await stored()).status!;
    expect(s.conditions!.find((c) => c.type === 'WorkersRunning')).toMatchObject({ status: 'True', lastTransitionTime: new Date(now).toISOString() });
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForAgents' });

    // Agents acknowledge the current generation: Ready.
    for (const node of ['node-1', 'node-2']) {
      const { link } = fakeLink(agents, node, job);
      agents.acknowledge(link.id, 1);
    }
    await reconcileMain();
    expect((await stored()).status!.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'TaskAccepted' });
  });

  it('a failed worker fails the job for good: Failed condition, completionTime, no new workers', async () => {
    await backend.create(jobInput());
    await reconcileMain();
    runtime.set(KEY, 'node-2', { phase: 'Failed', message: 'exited with code 1; gave up after 10 restarts' });
    await settle();
    await reconcileMain();
    const s = (await stored()).status!;
    expect(s.phase).toBe('Failed');
    expect(s.completionTime).toBe(new Date(now).toISOString());
    expect(s.conditions!.find((c) => c.type === 'Failed')!.message).toContain('node-2');
    expect(s.workers!.find((w) => w.node === 'node-2')!.message).toContain('gave up');
    const ensures = runtime.ensureCalls.length;
    await runtime.remove(KEY, 'node-2'); // the failed worker disappears; the job must not restart it
    await settle();
    await reconcileMain();
    expect(runtime.ensureCalls.length).toBe(ensures);
    expect((await stored()).status!.phase).toBe('Failed');
  });

  it('all workers succeeded (history) -> Succeeded with Completed condition', async () => {
    await backend.create(jobInput(undefined, 'history'));
    await reconcileMain();
    runtime.set(KEY, 'node-1', { phase: 'Succeeded' });
    runtime.set(KEY, 'node-2', { phase: 'Succeeded' });
    await settle();
    await reconcileMain();
    const s = (await stored()).status!;
    expect(s.phase).toBe('Succeeded');
    expect(s.conditions!.find((c) => c.type === 'Completed')).toMatchObject({ status: 'True' });
  });

  it('deleted job: workers removed, then the finalizer released and the job gone', async () => {
    await backend.create(jobInput());
    await reconcileMain();
    await backend.delete('default', 'track');
    expect((await stored()).metadata.deletionTimestamp).toBeDefined();
    await settle();
    await reconcileMain();
    expect(runtime.workers.size).toBe(0);
    expect(runtime.removeCalls).toContainEqual({ jobKey: KEY, node: undefined });
    expect(await backend.get('default', 'track')).toBeUndefined();
  });

  it('deletion gives a connected agent STOP_GRACE_MS to stop by itself first', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    const { link } = fakeLink(agents, 'node-1', job);
    await backend.delete('default', 'track');
    await settle();
    now = Date.parse((await stored()).metadata.deletionTimestamp!);
    agents.markStopSent(link, now); // the downstream controller told it to stop
    expect(await reconcileMain()).toEqual({ requeueAfterMs: 250 });
    expect(runtime.workers.size).toBe(2);
    now += STOP_GRACE_MS;
    await reconcileMain();
    expect(runtime.workers.size).toBe(0);
    expect(await backend.get('default', 'track')).toBeUndefined();
  });

  it('after task:stop, waits for the agent process to exit by itself (within the grace period)', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    runtime.set(KEY, 'node-1', { phase: 'Running' });
    const { link } = fakeLink(agents, 'node-1', job);
    await backend.delete('default', 'track');
    await settle();
    now = Date.parse((await stored()).metadata.deletionTimestamp!);
    agents.markStopSent(link, now);
    agents.remove(link.id); // the agent stopped its cameras and disconnected; its process is still exiting
    now += 1_000;
    expect(await reconcileMain()).toEqual({ requeueAfterMs: 250 });
    expect(runtime.removeCalls).toHaveLength(0);
    runtime.set(KEY, 'node-1', { phase: 'Succeeded' }); // exited 0
    await settle();
    await reconcileMain();
    expect(runtime.removeCalls).toHaveLength(1);
    expect(await backend.get('default', 'track')).toBeUndefined();
  });

  it('removes the worker of a node that left the spec and creates the new one', async () => {
    await backend.create(jobInput());
    await reconcileMain();
    const j = await stored();
    j.spec.cameras = j.spec.cameras.map((c) => (c.node === 'node-2' ? { ...c, node: 'node-3' } : c));
    await backend.update(j);
    await settle();
    await reconcileMain();
    expect([...runtime.workers.values()].map((w) => w.node).sort()).toEqual(['node-1', 'node-3']);
    const s = (await stored()).status!;
    expect(s.observedGeneration).toBe(2);
    expect(s.workers!.map((w) => w.node)).toEqual(['node-1', 'node-3']);
  });

  it('removes orphan workers whose job is gone', async () => {
    const job = await backend.create(jobInput());
    await runtime.ensure({ job, node: 'node-1', token: 't', serverUrl: 'x' });
    // The job disappears without our finalizer (e.g. deleted while the server was down).
    await backend.delete('default', 'track');
    await settle();
    await reconcileMain();
    expect(runtime.workers.size).toBe(0);
  });

  it('retries status writes on conflict (re-read, re-apply)', async () => {
    await backend.create(jobInput());
    await reconcileMain(); // finalizer + first status
    runtime.set(KEY, 'node-1', { phase: 'Running' });
    await settle();
    backend.conflictsToInject = 2;
    const writes = backend.calls.updateStatus;
    await reconcileMain();
    expect(backend.calls.updateStatus).toBe(writes + 3);
    expect((await stored()).status!.phase).toBe('Running');
  });
});

describe('downstream controller (in-memory fake backend)', () => {
  it('sends each connected agent its own cameras once per generation, resends unacknowledged tasks', async () => {
    const job = await backend.create(jobInput());
    await settle();
    const a = fakeLink(agents, 'node-1', job);
    const b = fakeLink(agents, 'node-2', job);
    const r = await downstream.reconcile(KEY);
    expect(r).toEqual({ requeueAfterMs: TASK_RESEND_MS });
    expect(a.sent.tasks).toHaveLength(1);
    expect(a.sent.tasks[0]).toMatchObject({ jobKey: KEY, uid: job.metadata.uid, generation: 1, node: 'node-1', mode: 'live', threads: 3, spoolBytes: 1_048_576 });
    expect(b.sent.tasks[0].spoolBytes).toBeUndefined(); // the agent's own default
    expect(a.sent.tasks[0].cameras.map((c) => c.name)).toEqual(['cam-a', 'cam-c']);
    expect(b.sent.tasks[0].cameras.map((c) => c.name)).toEqual(['cam-b']);

    await downstream.reconcile(KEY); // in flight: not resent
    expect(a.sent.tasks).toHaveLength(1);
    agents.acknowledge(a.link.id, 1);
    now += TASK_RESEND_MS;
    await downstream.reconcile(KEY);
    expect(a.sent.tasks).toHaveLength(1); // acknowledged
    expect(b.sent.tasks).toHaveLength(2); // not acknowledged: resent

    const j = await stored();
    j.spec.cameras[0].fps = 5;
    await backend.update(j);
    await settle();
    await downstream.reconcile(KEY);
    expect(a.sent.tasks.at(-1)!.generation).toBe(2);
  });

  it('stops agents of a deleting job, of a removed node, and of a job that is gone (once each)', async () => {
    const job = await backend.create(jobInput());
    await main.reconcile(KEY); // finalizer, so delete only marks
    await settle();
    const a = fakeLink(agents, 'node-1', job);
    const b = fakeLink(agents, 'node-2', job);

    const j = await stored();
    j.spec.cameras = j.spec.cameras.filter((c) => c.node !== 'node-2');
    await backend.update(j);
    await settle();
    await downstream.reconcile(KEY);
    expect(b.sent.stops).toEqual([{ jobKey: KEY, uid: job.metadata.uid, reason: 'node node-2 was removed from the job' }]);
    expect(a.sent.stops).toHaveLength(0);

    await backend.delete('default', 'track');
    await settle();
    await downstream.reconcile(KEY);
    await downstream.reconcile(KEY);
    expect(a.sent.stops).toEqual([{ jobKey: KEY, uid: job.metadata.uid, reason: 'job is being deleted' }]);
    expect(b.sent.stops).toHaveLength(1);

    const c = fakeLink(agents, 'node-1', { ...job, metadata: { ...job.metadata, uid: 'older-job' } }, 'sock-old');
    await downstream.reconcile(KEY);
    expect(c.sent.stops[0].reason).toBe('job deleted');
  });
});

describe('upstream controller (in-memory fake backend)', () => {
  const state = (job: MultiEdgeInference, cameras: AgentState['cameras'], message?: string): AgentState => ({
    jobKey: KEY,
    uid: job.metadata.uid,
    phase: 'Running',
    sentAt: new Date(now).toISOString(),
    cameras,
    ...(message ? { message } : {}),
  });

  it('writes cameras, heartbeats and the agent message; Degraded when a running worker goes quiet', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    runtime.set(KEY, 'node-1', { phase: 'Running', startedAt: new Date(now).toISOString() });
    runtime.set(KEY, 'node-2', { phase: 'Running', startedAt: new Date(now).toISOString() });
    await settle();
    fakeLink(agents, 'node-1', job);
    reports.put(KEY, { node: 'node-1', receivedAt: now, state: state(job, [{ name: 'cam-a', state: 'Streaming', fps: 9.5, activeTracks: 3 }, { name: 'cam-c', state: 'Connecting' }], 'warming up') });
    reports.put(KEY, { node: 'node-2', receivedAt: now, state: state(job, [{ name: 'cam-b', state: 'Streaming', fps: 10 }]) });
    const r = await upstream.reconcile(KEY);
    let s = (await stored()).status!;
    expect(s.cameras).toEqual([
      { name: 'cam-a', state: 'Streaming', fps: 9.5, activeTracks: 3 },
      { name: 'cam-b', state: 'Streaming', fps: 10 },
      { name: 'cam-c', state: 'Connecting' },
    ]);
    expect(s.workers!.find((w) => w.node === 'node-1')).toMatchObject({ lastHeartbeat: new Date(now).toISOString(), message: 'warming up' });
    expect(s.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'False' });
    expect(r!.requeueAfterMs).toBeGreaterThan(HEARTBEAT_STALE_MS - 100);
    expect(r!.requeueAfterMs).toBeLessThanOrEqual(HEARTBEAT_STALE_MS + 10);

    // node-1 keeps reporting; node-2 goes quiet past 3 heartbeat periods.
    now += HEARTBEAT_STALE_MS + 1;
    reports.put(KEY, { node: 'node-1', receivedAt: now, state: state(job, [{ name: 'cam-a', state: 'Streaming' }, { name: 'cam-c', state: 'Streaming' }]) });
    await upstream.reconcile(KEY);
    s = (await stored()).status!;
    const degraded = s.conditions!.find((c) => c.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'HeartbeatMissed', lastTransitionTime: new Date(now).toISOString() });
    expect(degraded.message).toContain('node-2');
    expect(degraded.message).not.toContain('node-1');
  });

  it('reports history progress and failed cameras; idempotent on a second run', async () => {
    const job = await backend.create(jobInput([['cam-a', 'node-1'], ['cam-b', 'node-1']], 'history'));
    await reconcileMain();
    reports.put(KEY, {
      node: 'node-1',
      receivedAt: now,
      state: state(job, [
        { name: 'cam-a', state: 'Streaming', framesProcessed: 300, totalFrames: 400, spooledBytes: 52_000, oldestUnsentSeconds: 12, droppedBatches: 3, floorFps: 2, belowFloor: true },
        { name: 'cam-b', state: 'Failed', framesProcessed: 0, totalFrames: 200, message: 'spec.cameras[name=cam-b].source: video file not found' },
      ]),
    });
    await upstream.reconcile(KEY);
    const s = (await stored()).status!;
    expect(s.progress).toBeCloseTo(300 / 600, 6);
    // The agent's delivery counts and its floor (issue #16) reach the job status as they are.
    expect(s.cameras![0]).toMatchObject({ spooledBytes: 52_000, oldestUnsentSeconds: 12, droppedBatches: 3, floorFps: 2, belowFloor: true });
    expect(s.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'CameraFailed' });
    const writes = backend.calls.updateStatus;
    await upstream.reconcile(KEY);
    expect(backend.calls.updateStatus).toBe(writes);
  });

  it('drops reports of an older job with the same name', async () => {
    const job = await backend.create(jobInput());
    await reconcileMain();
    reports.put(KEY, { node: 'node-1', receivedAt: now, state: { ...state(job, [{ name: 'cam-a', state: 'Streaming' }]), uid: 'older' } });
    await upstream.reconcile(KEY);
    expect(reports.get(KEY).size).toBe(0);
    expect((await stored()).status!.cameras![0]).toEqual({ name: 'cam-a', state: 'Pending' });
  });
});

describe('controller manager (in-memory fake backend, fake runtime)', () => {
  it('drives a job from create to Running and through deletion by events alone', async () => {
    const m = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => 'http://127.0.0.1:9', log: silentLogger });
    runtime.initialPhase = 'Running';
    await m.start();
    try {
      await backend.create(jobInput());
      await expect.poll(async () => (await stored()).status?.phase, { timeout: 60_000 }).toBe('Running');
      expect(runtime.workers.size).toBe(2);
      await backend.delete('default', 'track');
      await expect.poll(() => backend.get('default', 'track'), { timeout: 60_000 }).toBeUndefined();
      expect(runtime.workers.size).toBe(0);
    } finally {
      await m.stop();
    }
  });
});
