// Rolling a worker Pod when its template changes, with MEI's real controllers against a real kube-apiserver.
// The stand-in kubelet (fake-kubelet.ts; mock: no nodes or containers here) runs each pod's agent as a local
// process and finishes graceful deletions, so the old pod really terminates before the new one is created.
// The agents point at a closed port: this test is about pods, not about agents connecting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { jobKey, type MultiEdgeInference } from '@mei/contracts';
import { CRD_GROUP, CRD_PATH, CRD_PLURAL, CRD_VERSION } from '@mei/contracts/crd';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import type { WorkerLaunch } from '../../server/backends/types.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { KubeEventRecorder } from '../../server/backends/kubernetes/events.ts';
import { ANNOTATION_TEMPLATE_HASH, WORKER_SELECTOR, workerName } from '../../server/backends/kubernetes/pod-template.ts';
import { PodRuntime } from '../../server/backends/kubernetes/worker-runtime.ts';
import { FakeKubelet } from './fake-kubelet.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { freshNamespace, memoryLogger, waitFor } from './support.ts';

const kube = useKube();
const NODE = 'edge-roll';
let kc: KubeConfig;
let core: CoreV1Api;
let objects: CustomObjectsApi;
let ns: string;
let manager: ControllerManager | undefined;
let kubelet: FakeKubelet | undefined;
let backend: KubernetesJobBackend;
let recorder: KubeEventRecorder;
const log = memoryLogger();
const tokens = new AgentTokens(Buffer.alloc(32, 5));

/** The real PodRuntime, counting what the controllers ask of it for this file's jobs (other files' jobs may be left in the cluster). */
class CountingPodRuntime extends PodRuntime {
  ensures = 0;
  removes = 0;
  override async ensure(launch: WorkerLaunch): Promise<void> {
    if (launch.job.metadata.namespace === ns) this.ensures++;
    return super.ensure(launch);
  }
  override async remove(key: string, node?: string): Promise<void> {
    if (key.startsWith(`${ns}/`)) this.removes++;
    return super.remove(key, node);
  }
}
let runtime: CountingPodRuntime;

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  core = kc.makeApiClient(CoreV1Api);
  objects = kc.makeApiClient(CustomObjectsApi);
  await installCrd(kc, CRD_PATH);
  ns = await freshNamespace(kc, 'mei-roll');
  recorder = new KubeEventRecorder(kc, { log, instance: 'rollout-test' });
  // A short resync re-delivers every job to the controllers: level-triggered reconciles with nothing changed.
  backend = new KubernetesJobBackend(kc, { resyncMs: 300 });
  runtime = new CountingPodRuntime(kc, { log, recorder, image: 'mei/edge-agent:default', terminationGracePeriodSeconds: 5 });
  manager = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => 'http://127.0.0.1:9', log });
  await manager.start();
  kubelet = new FakeKubelet(kc, new Set([NODE]));
  await kubelet.start();
});

afterAll(async () => {
  await kubelet?.stop();
  await manager?.stop();
  await runtime?.close();
  await backend?.close();
});

const podsOf = async (job: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=${job}` })).items;
const stored = async (name: string) => (await backend.get(ns, name))!;
const condition = async (name: string, type: string) => (await stored(name)).status?.conditions?.find((c) => c.type === type);
const eventsOf = async (job: MultiEdgeInference) => {
  await recorder.flush();
  return (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.uid=${job.metadata.uid}` })).items;
};
/** `kubectl patch --type=json`: a JSON patch of the job's spec. */
const patchSpec = (name: string, ops: Array<{ op: string; path: string; value: unknown }>) =>
  objects.patchNamespacedCustomObject({ group: CRD_GROUP, version: CRD_VERSION, namespace: ns, plural: CRD_PLURAL, name, body: ops });

/** Samples the job's phase every 50 ms until stopped. */
function samplePhases(name: string) {
  const seen = new Set<string | undefined>();
  let on = true;
  const loop = (async () => {
    while (on) {
      seen.add((await stored(name)).status?.phase);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return async () => {
    on = false;
    await loop;
    return [...seen];
  };
}

async function runningJob(name: string, image: string): Promise<{ job: MultiEdgeInference; pod: V1Pod }> {
  const job = await backend.create({
    metadata: { name, namespace: ns },
    spec: {
      cameras: [{ name: 'cam-a', node: NODE, source: 'rtsp://camera.invalid/stream' }],
      models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      workers: [{ node: NODE, image, threads: 2 }],
    },
  });
  await waitFor(`${name} Running`, async () => (await stored(name)).status?.phase === 'Running', 120_000, 50);
  const [pod] = await podsOf(name);
  expect(pod.status?.phase).toBe('Running');
  return { job, pod };
}

describe('worker rollout in Kubernetes mode (real apiserver, stand-in kubelet)', () => {
  it('a new spec.workers[].image replaces the pod (old one terminated first, new hash annotation); resyncs and changes outside the template do not', async () => {
    const { job, pod: first } = await runningJob('roll', 'mei/edge-agent:1');
    const name = workerName(job, NODE);
    const firstHash = first.metadata!.annotations![ANNOTATION_TEMPLATE_HASH];
    expect(firstHash).toMatch(/^[0-9a-f]{16}$/);
    expect(first.spec!.containers[0].image).toBe('mei/edge-agent:1');
    expect(await condition('roll', 'WorkersUpToDate')).toMatchObject({ status: 'True', reason: 'AllWorkersUpToDate' });

    const phases = samplePhases('roll');
    const t0 = Date.now();
    await patchSpec('roll', [{ op: 'replace', path: '/spec/workers/0/image', value: 'mei/edge-agent:2' }]);
    const second = await waitFor(
      'the replacement pod Running',
      async () => {
        const [p] = await podsOf('roll');
        return p && p.metadata!.uid !== first.metadata!.uid && p.status?.phase === 'Running' && p;
      },
      30_000,
      50,
    );
    const rolledMs = Date.now() - t0;
    await waitFor('WorkersUpToDate True again', async () => (await condition('roll', 'WorkersUpToDate'))?.status === 'True', 120_000, 50);
    const seenPhases = await phases();
    console.log(`[rollout] image change -> new pod Running in ${rolledMs} ms; job phases seen meanwhile: ${seenPhases.join(', ')}`);

    expect(second.metadata!.name).toBe(name);
    expect(second.spec!.containers[0].image).toBe('mei/edge-agent:2');
    const secondHash = second.metadata!.annotations![ANNOTATION_TEMPLATE_HASH];
    expect(secondHash).toMatch(/^[0-9a-f]{16}$/);
    expect(secondHash).not.toBe(firstHash);
    expect(secondHash).toBe(runtime.templateHash({ job: (await stored('roll'))!, node: NODE, token: 'ignored', serverUrl: 'http://127.0.0.1:9' }));
    // The job stayed Running while its worker restarted.
    expect(seenPhases).toEqual(['Running']);
    // The old agent got SIGTERM from its kubelet and exited before the new pod existed (same name, no overlap).
    expect(kubelet!.exits.filter((e) => e.namespace === ns && e.pod === name)).toHaveLength(1);
    const reasons = (await eventsOf(job)).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'WorkerTemplateChanged')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'WorkerCreated')).toHaveLength(1); // one Event, count 2
    expect((await eventsOf(job)).find((e) => e.reason === 'WorkerCreated')!.count).toBe(2);

    // Nothing changed: resyncs (every 300 ms) and explicit requeues reconcile, and leave the pod alone.
    const ensures = runtime.ensures;
    const removes = runtime.removes;
    for (let i = 0; i < 5; i++) manager!.main.enqueue(jobKey(job));
    await waitFor('five reconciles (requeues and resyncs)', () => runtime.ensures - ensures >= 5);
    // threads reaches the agent in its task, not in the pod: a new generation, the same pod.
    await patchSpec('roll', [{ op: 'replace', path: '/spec/workers/0/threads', value: 3 }]);
    await waitFor('generation 3 observed', async () => (await stored('roll')).status?.observedGeneration === 3, 120_000, 50);
    const afterPatch = runtime.ensures;
    await waitFor('a resync after the patch', () => runtime.ensures > afterPatch);
    expect(runtime.removes).toBe(removes);
    const [still] = await podsOf('roll');
    expect(still.metadata!.uid).toBe(second.metadata!.uid);
    expect(still.metadata!.annotations![ANNOTATION_TEMPLATE_HASH]).toBe(secondHash);
    expect((await eventsOf(job)).filter((e) => e.reason === 'WorkerTemplateChanged').map((e) => e.count)).toEqual([1]);

    // Deleted by someone else: recreated as before, from the same template, and not announced as a rollout.
    await core.deleteNamespacedPod({ name, namespace: ns });
    const third = await waitFor(
      'the deleted pod recreated',
      async () => {
        const [p] = await podsOf('roll');
        return p && p.metadata!.uid !== second.metadata!.uid && p.status?.phase === 'Running' && p;
      },
      30_000,
      50,
    );
    expect(third.metadata!.annotations![ANNOTATION_TEMPLATE_HASH]).toBe(secondHash);
    expect((await eventsOf(job)).filter((e) => e.reason === 'WorkerTemplateChanged').map((e) => e.count)).toEqual([1]);
  }, 600_000);

  it('a template the apiserver refuses (requests above limits) keeps the running pod and says why; a valid one then rolls', async () => {
    const { job, pod: first } = await runningJob('refused', 'mei/edge-agent:1');
    const checks: string[] = [];
    const original = runtime.checkTemplate.bind(runtime);
    runtime.checkTemplate = async (l) => {
      const r = await original(l);
      checks.push(r ?? 'ok');
      return r;
    };
    try {
      await patchSpec('refused', [{ op: 'add', path: '/spec/workers/0/resources', value: { requests: { cpu: '2' }, limits: { cpu: '1' } } }]);
      const cond = await waitFor('TemplateRejected', async () => {
        const c = await condition('refused', 'WorkersUpToDate');
        return c?.reason === 'TemplateRejected' && c;
      });
      expect(cond.status).toBe('False');
      expect(cond.message).toContain(`Pod "${workerName(job, NODE)}" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit`);
      expect(await condition('refused', 'Ready')).toMatchObject({ status: 'False', reason: 'TemplateRejected' });
      const j = await stored('refused');
      expect(j.status!.phase).toBe('Running');
      expect(j.status!.workers![0]).toMatchObject({ phase: 'Running' });

      // Resyncs keep coming; the refused template is not dry-run again within TEMPLATE_RECHECK_MS, the pod stays.
      await new Promise((r) => setTimeout(r, 1500));
      expect(checks.filter((c) => c !== 'ok')).toHaveLength(1);
      const [kept] = await podsOf('refused');
      expect(kept.metadata!.uid).toBe(first.metadata!.uid);
      expect(kept.metadata!.deletionTimestamp).toBeUndefined();
      const warning = (await eventsOf(job)).find((e) => e.reason === 'WorkerTemplateRejected')!;
      expect(warning).toMatchObject({ type: 'Warning', count: 1 });

      await patchSpec('refused', [{ op: 'replace', path: '/spec/workers/0/resources', value: { requests: { cpu: '500m' }, limits: { cpu: '1' } } }]);
      const rolled = await waitFor(
        'the pod replaced with the valid template',
        async () => {
          const [p] = await podsOf('refused');
          return p && p.metadata!.uid !== first.metadata!.uid && p.status?.phase === 'Running' && p;
        },
        30_000,
        50,
      );
      expect(rolled.spec!.containers[0].resources).toEqual({ requests: { cpu: '500m' }, limits: { cpu: '1' } });
      await waitFor('WorkersUpToDate True', async () => (await condition('refused', 'WorkersUpToDate'))?.status === 'True', 120_000, 50);
    } finally {
      runtime.checkTemplate = original;
    }
  }, 600_000);
});
