// The Pod WorkerRuntime against a real kube-apiserver. There is no kubelet here, so the test plays its part:
// it writes pod status (phases, restarts, waiting reasons) and finishes graceful deletions, and checks what
// the runtime makes of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, type KubeConfig, type V1ContainerStatus, type V1Pod } from '@kubernetes/client-node';
import type { MultiEdgeInference } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { KubeEventRecorder } from '../../server/backends/kubernetes/events.ts';
import { EDGE_ROLE, WORKER_SELECTOR, workerName } from '../../server/backends/kubernetes/pod-template.ts';
import { PodRuntime, WorkerBusyError } from '../../server/backends/kubernetes/worker-runtime.ts';
import { baseJob } from '../fixtures/invalid-specs.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { freshNamespace, memoryLogger, waitFor } from './support.ts';

const kube = useKube();
let kc: KubeConfig;
let core: CoreV1Api;
let backend: KubernetesJobBackend;
let ns: string;
const log = memoryLogger();

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  core = kc.makeApiClient(CoreV1Api);
  await installCrd(kc, CRD_PATH);
  backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
  ns = await freshNamespace(kc, 'mei-pods');
});
afterAll(async () => {
  await backend?.close();
});

function runtime(o: Partial<ConstructorParameters<typeof PodRuntime>[1]> = {}) {
  const recorder = new KubeEventRecorder(kc, { log, instance: 'test' });
  return { rt: new PodRuntime(kc, { log, recorder, image: 'registry.example/mei/edge-agent:test', ...o }), recorder };
}

async function newJob(name: string, mutate?: (j: any) => void): Promise<MultiEdgeInference> {
  const j = { ...baseJob(name), metadata: { name, namespace: ns } } as any;
  mutate?.(j);
  return backend.create(j);
}

const launch = (job: MultiEdgeInference, node: string, token = `token-${node}-${Math.random()}`) => ({ job, node, token, serverUrl: 'http://mei.example:3000' });
const podsOf = async (job: MultiEdgeInference) =>
  (await core.listNamespacedPod({ namespace: ns, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=${job.metadata.name}` })).items;
const secretsOf = async (job: MultiEdgeInference) =>
  (await core.listNamespacedSecret({ namespace: ns, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=${job.metadata.name}` })).items;

/** What a kubelet would write: pod phase and the agent container's state. */
async function setPodStatus(pod: V1Pod, phase: string, container?: Partial<V1ContainerStatus>) {
  const status: Record<string, unknown> = { phase };
  if (container) status.containerStatuses = [{ name: 'agent', image: 'img', imageID: '', ready: phase === 'Running', restartCount: 0, ...container }];
  await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: ns, body: [{ op: 'replace', path: '/status', value: status }] });
}

describe('PodRuntime on a real kube-apiserver', () => {
  it('ensure() creates a Secret and a Pod pinned to the node, owned by the job, with the token from the Secret', async () => {
    const job = await newJob('lobby', (j) => (j.spec.workers = [{ node: 'edge-2', image: 'registry.example/custom-agent:1', resources: { limits: { cpu: '2' } } }]));
    const { rt, recorder } = runtime();
    const l1 = launch(job, 'edge-1');
    await rt.ensure(l1);
    await rt.ensure(launch(job, 'edge-2'));

    const pods = await podsOf(job);
    expect(pods.map((p) => p.spec!.nodeName).sort()).toEqual(['edge-1', 'edge-2']);
    const pod = pods.find((p) => p.spec!.nodeName === 'edge-1')!;
    expect(pod.metadata!.name).toBe(workerName(job, 'edge-1'));
    expect(pod.metadata!.ownerReferences).toEqual([
      { apiVersion: 'sedna.io/v1alpha1', kind: 'MultiEdgeInference', name: 'lobby', uid: job.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    expect(pod.metadata!.labels).toMatchObject({
      'sedna.io/job-name': 'lobby',
      'sedna.io/job-uid': job.metadata.uid,
      'sedna.io/worker-node': 'edge-1',
      'app.kubernetes.io/name': 'mei-edge-agent',
      'app.kubernetes.io/instance': 'lobby',
      'app.kubernetes.io/managed-by': 'mei-server',
    });
    expect(pod.spec!.nodeSelector).toEqual({ [EDGE_ROLE]: '' });
    expect(pod.spec!.tolerations).toContainEqual({ key: EDGE_ROLE, operator: 'Exists', effect: 'NoSchedule' });
    expect(pod.spec!.restartPolicy).toBe('OnFailure');
    const c = pod.spec!.containers[0];
    expect(c.image).toBe('registry.example/mei/edge-agent:test');
    expect([...c.command!, ...c.args!]).toEqual(['mei-agent', 'run', '--server', '$(MEI_SERVER_URL)', '--node', 'edge-1']);
    expect(c.env).toContainEqual({ name: 'MEI_SERVER_URL', value: 'http://mei.example:3000' });
    const tokenEnv = c.env!.find((e) => e.name === 'MEI_AGENT_TOKEN')!;
    expect(tokenEnv.valueFrom!.secretKeyRef).toEqual({ name: pod.metadata!.name, key: 'token' });

    const secret = await core.readNamespacedSecret({ name: pod.metadata!.name!, namespace: ns });
    expect(Buffer.from(secret.data!.token, 'base64').toString()).toBe(l1.token);
    expect(secret.immutable).toBe(true);
    expect(secret.metadata!.ownerReferences![0]).toMatchObject({ uid: job.metadata.uid, controller: true, blockOwnerDeletion: true });

    // spec.workers[] tunes one node: its own image and resources.
    const tuned = pods.find((p) => p.spec!.nodeName === 'edge-2')!.spec!.containers[0];
    expect(tuned.image).toBe('registry.example/custom-agent:1');
    expect(tuned.resources!.limits).toEqual({ cpu: '2' });

    await recorder.flush();
    const events = (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.uid=${job.metadata.uid}` })).items;
    expect(events.filter((e) => e.reason === 'WorkerCreated').map((e) => e.message).sort()).toEqual([
      `Created pod ${workerName(job, 'edge-1')} for node edge-1`,
      `Created pod ${workerName(job, 'edge-2')} for node edge-2`,
    ]);
    expect(events[0].involvedObject).toMatchObject({ kind: 'MultiEdgeInference', apiVersion: 'sedna.io/v1alpha1', name: 'lobby', namespace: ns });
    await rt.close();
  });

  it('ensure() is idempotent: concurrent calls and a restarted runtime make no second pod and keep the token', async () => {
    const job = await newJob('idem');
    const a = runtime().rt;
    const b = runtime().rt;
    const first = launch(job, 'edge-1', 'first-token');
    await Promise.all([a.ensure(first), b.ensure(launch(job, 'edge-1', 'other-token')), a.ensure(launch(job, 'edge-1', 'third-token'))]);
    const pods = await podsOf(job);
    expect(pods).toHaveLength(1);
    const secrets = await secretsOf(job);
    expect(secrets).toHaveLength(1);
    const token = Buffer.from(secrets[0].data!.token, 'base64').toString();
    expect(['first-token', 'other-token', 'third-token']).toContain(token);
    // A "restarted" server: a fresh runtime whose cache starts empty.
    await Promise.all([a.close(), b.close()]);
    const c = runtime().rt;
    await c.ensure(launch(job, 'edge-1', 'after-restart'));
    const again = await podsOf(job);
    expect(again.map((p) => p.metadata!.uid)).toEqual(pods.map((p) => p.metadata!.uid));
    expect(Buffer.from((await secretsOf(job))[0].data!.token, 'base64').toString()).toBe(token);
    await c.close();
  });

  it('maps pod phases, restarts and waiting reasons to ObservedWorker phases, and records failures', async () => {
    const job = await newJob('phases');
    const { rt, recorder } = runtime({ maxRestarts: 5 });
    const changed: string[] = [];
    const stop = rt.watch((key) => changed.push(key));
    await rt.ensure(launch(job, 'edge-1'));
    const key = `${ns}/phases`;
    const pod = (await podsOf(job))[0];
    const observed = async () => (await rt.list(key))[0];

    await waitFor('the new pod in the cache', async () => (await observed())?.phase === 'Pending');
    expect(await observed()).toMatchObject({ jobKey: key, jobUid: job.metadata.uid, node: 'edge-1', name: pod.metadata!.name, restarts: 0 });

    await setPodStatus(pod, 'Pending', { state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } } });
    await waitFor('ImagePullBackOff', async () => (await observed())?.message?.startsWith('ImagePullBackOff'));
    expect((await observed()).phase).toBe('Pending');

    const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    await setPodStatus(pod, 'Running', { state: { running: { startedAt } } });
    await waitFor('Running', async () => (await observed())?.phase === 'Running');
    expect(Date.parse((await observed()).startedAt!)).toBe(startedAt.getTime());
    expect(changed).toContain(key);

    await setPodStatus(pod, 'Running', {
      restartCount: 3,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    await waitFor('CrashLoopBackOff', async () => (await observed())?.restarts === 3);
    expect(await observed()).toMatchObject({ phase: 'Pending', message: 'CrashLoopBackOff: back-off 40s restarting failed container (last exit code 1, Error)' });

    await setPodStatus(pod, 'Running', { restartCount: 5, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } });
    await waitFor('Failed after maxRestarts', async () => (await observed())?.phase === 'Failed');
    expect((await observed()).message).toBe('CrashLoopBackOff (last exit code 1); gave up after 5 restarts');

    await setPodStatus(pod, 'Succeeded', { state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    await waitFor('Succeeded', async () => (await observed())?.phase === 'Succeeded');

    await recorder.flush();
    const failed = (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.uid=${job.metadata.uid},reason=WorkerFailed` })).items;
    expect(failed).toHaveLength(1);
    expect(failed[0].type).toBe('Warning');
    expect(failed[0].message).toContain('Worker on node edge-1 failed: CrashLoopBackOff');
    stop();
    await rt.close();
  });

  it('remove() deletes pods and secrets (one node or all); a pod stuck terminating is force-deleted', async () => {
    const job = await newJob('cleanup');
    const { rt } = runtime({ forceDeleteAfterMs: 0, terminationGracePeriodSeconds: 1 });
    await rt.ensure(launch(job, 'edge-1'));
    await rt.ensure(launch(job, 'edge-2'));
    const key = `${ns}/cleanup`;

    const removedAt = Date.now();
    await rt.remove(key, 'edge-2');
    // Graceful: the pod waits for its (absent) kubelet, the secret is gone at once.
    const terminating = (await podsOf(job)).find((p) => p.spec!.nodeName === 'edge-2')!;
    expect(terminating.metadata!.deletionTimestamp).toBeDefined();
    expect((await secretsOf(job)).map((s) => s.metadata!.annotations!['sedna.io/worker-node'])).toEqual(['edge-1']);
    await waitFor('the terminating pod in the cache', async () => (await rt.list(key)).find((w) => w.node === 'edge-2')?.message === 'terminating');

    // deletionTimestamp is the end of the 1 s grace period; remove() before it leaves the pod alone.
    expect(Date.parse(String(terminating.metadata!.deletionTimestamp))).toBeGreaterThanOrEqual(Math.floor(removedAt / 1000) * 1000);
    // Called again (as the finalizer does) past it and forceDeleteAfterMs: the pod goes without its node.
    await waitFor('the stuck pod force-deleted', async () => {
      await rt.remove(key, 'edge-2');
      return (await podsOf(job)).map((p) => p.spec!.nodeName).join() === 'edge-1';
    });

    await rt.remove(key);
    // A kubelet would now finish the graceful deletion; here the test does.
    for (const p of await podsOf(job)) await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
    expect(await podsOf(job)).toEqual([]);
    expect(await secretsOf(job)).toEqual([]);
    await waitFor('an empty worker list', async () => (await rt.list(key)).length === 0);
    await rt.remove(key); // idempotent
    await rt.close();
  });

  it('a job re-created under the same name waits for the old worker to go, then gets its own', async () => {
    const { rt } = runtime({ forceDeleteAfterMs: 0, terminationGracePeriodSeconds: 1 });
    const old = await newJob('again');
    await rt.ensure(launch(old, 'edge-1', 'old-token'));
    await backend.delete(ns, 'again');
    const fresh = await newJob('again');
    expect(fresh.metadata.uid).not.toBe(old.metadata.uid);
    await waitFor('old pod in cache', async () => (await rt.list(`${ns}/again`)).length === 1);
    // First attempt: the old pod is asked to go; once its 1 s grace is over it is forced (no kubelet); then ours.
    await expect(rt.ensure(launch(fresh, 'edge-1', 'new-token'))).rejects.toBeInstanceOf(WorkerBusyError);
    await waitFor('the old worker replaced', async () => {
      await rt.ensure(launch(fresh, 'edge-1', 'new-token'));
      return true;
    });
    const pods = await podsOf(fresh);
    expect(pods).toHaveLength(1);
    expect(pods[0].metadata!.ownerReferences![0].uid).toBe(fresh.metadata.uid);
    expect(Buffer.from((await secretsOf(fresh))[0].data!.token, 'base64').toString()).toBe('new-token');
    await rt.close();
  });

  it('names stay valid for long node names (label values are hashed, the annotation keeps the name)', async () => {
    const node = `${'edge.'.repeat(40)}node-1`;
    const job = await newJob(`j${'x'.repeat(62)}`, (j) => (j.spec.cameras = [{ name: 'cam-a', node, source: 'file:///v.avi' }]));
    const { rt } = runtime({ edgeNodes: false });
    await rt.ensure(launch(job, node));
    const [pod] = (await core.listNamespacedPod({ namespace: ns, labelSelector: `sedna.io/job-uid=${job.metadata.uid}` })).items;
    expect(pod.metadata!.name!.length).toBeLessThanOrEqual(63);
    expect(pod.spec!.nodeName).toBe(node);
    expect(pod.spec!.nodeSelector).toBeUndefined();
    expect(pod.metadata!.annotations!['sedna.io/worker-node']).toBe(node);
    expect(pod.metadata!.labels!['sedna.io/worker-node'].length).toBeLessThanOrEqual(63);
    await waitFor('observed', async () => (await rt.list(`${ns}/${job.metadata.name}`))[0]?.node === node);
    await rt.close();
  });

  it('EventRecorder: a repeat within the window bumps the count of one Event', async () => {
    const job = await newJob('noisy');
    const recorder = new KubeEventRecorder(kc, { log, instance: 'test' });
    for (let i = 0; i < 3; i++) {
      recorder.record(job, 'Warning', 'WorkerFailed', 'Worker on node edge-1 failed: exited with code 1');
      await recorder.flush();
    }
    recorder.record(job, 'Normal', 'WorkerCreated', 'Created pod x for node edge-1');
    await recorder.flush();
    const events = (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.uid=${job.metadata.uid}` })).items;
    expect(events.map((e) => [e.reason, e.count]).sort()).toEqual([
      ['WorkerCreated', 1],
      ['WorkerFailed', 3],
    ]);
    const failed = events.find((e) => e.reason === 'WorkerFailed')!;
    expect(new Date(failed.lastTimestamp!).getTime()).toBeGreaterThanOrEqual(new Date(failed.firstTimestamp!).getTime());
    expect(failed).toMatchObject({ type: 'Warning', source: { component: 'mei-server' }, reportingComponent: 'mei-server', reportingInstance: 'test' });
  });
});
