// MEI's real controllers (main, downstream, upstream) in Kubernetes mode against a real kube-apiserver: jobs
// are custom resources, workers are Pods. A stand-in kubelet (fake-kubelet.ts; mock: no nodes or containers
// here) runs each pod's agent container as a local process from the pod spec — the real `mei-agent run` with
// the token from the pod's Secret, tracking people in the real PETS09 video with the real detector — and the
// agent connects over real Socket.IO to the realtime layer. Then: deletion with the finalizer, and a
// controller process killed in the middle of a reconcile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { MultiEdgeInference } from '@mei/contracts';
import { CRD_PATH } from '@mei/contracts/crd';
import { AgentTokens } from '../../server/auth/agent-tokens.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { FINALIZER } from '../../server/controllers/main-controller.ts';
import { ControllerManager } from '../../server/controllers/manager.ts';
import { attachRealtime } from '../../server/realtime/socket-server.ts';
import { KubernetesJobBackend } from '../../server/backends/kubernetes/job-backend.ts';
import { createKubernetesMode } from '../../server/backends/kubernetes/config.ts';
import { KubeEventRecorder } from '../../server/backends/kubernetes/events.ts';
import { WORKER_SELECTOR, workerName } from '../../server/backends/kubernetes/pod-template.ts';
import { PodRuntime } from '../../server/backends/kubernetes/worker-runtime.ts';
import { FakeKubelet } from './fake-kubelet.ts';
import { installCrd, kubeConfigFor, useKube } from './cluster.ts';
import { freshNamespace, memoryLogger, waitFor } from './support.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_DIR = process.env.MEI_MODEL_DIR ?? path.resolve(REPO, '../shared/models');
const SHARED_DATA = process.env.MEI_DATA_DIR ?? path.resolve(REPO, '../shared/data');
/**
 * The edge node's data root: a temporary one holding <namespace>/vtest.avi, since by default a job reads only
 * its namespace's folder (docs/security.md); copied, not linked: a symlink out of the root is refused.
 */
let dataDir: string;

const kube = useKube();
let kc: KubeConfig;
let core: CoreV1Api;
let ns: string;
let http: HttpServer;
let url: string;
let closeRealtime: (() => Promise<void>) | undefined;
let manager: ControllerManager | undefined;
let kubelet: FakeKubelet | undefined;
let recorder: KubeEventRecorder;
let child: ChildProcess | undefined;
const log = memoryLogger();
const tokens = new AgentTokens(Buffer.alloc(32, 9));
const sessions = new Sessions(Buffer.alloc(32, 9), { get: () => undefined } as any);

/** `settings`: a server configured as fixtures/controller-child.ts is (its pods have the same template). */
function kubernetesControllers(settings: 'default' | 'as-controller-child' = 'default') {
  const backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
  const runtime = new PodRuntime(
    kc,
    settings === 'as-controller-child'
      ? { log, recorder, image: 'mei/edge-agent:test' }
      : {
          log,
          recorder,
          image: 'mei/edge-agent:test',
          // Where the edge nodes keep models and recordings (hostPath volumes); the stand-in kubelet maps them here.
          hostModelDir: MODEL_DIR,
          hostDataDir: dataDir,
          terminationGracePeriodSeconds: 10,
        },
  );
  const serverUrl = settings === 'as-controller-child' ? () => 'http://mei.test:3000' : () => url;
  const controllers = new ControllerManager({ backend, runtime, mintToken: (c) => tokens.mint(c), serverUrl, log });
  return { backend, runtime, controllers };
}

beforeAll(async () => {
  kc = kubeConfigFor(kube());
  core = kc.makeApiClient(CoreV1Api);
  await installCrd(kc, CRD_PATH);
  ns = await freshNamespace(kc, 'mei-ctrl');
  dataDir = mkdtempSync(path.join(tmpdir(), 'mei-ctrl-data-'));
  mkdirSync(path.join(dataDir, ns));
  copyFileSync(path.join(SHARED_DATA, 'vtest.avi'), path.join(dataDir, ns, 'vtest.avi'));
  recorder = new KubeEventRecorder(kc, { log, instance: 'controllers-test' });
  http = createServer();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  child?.kill('SIGKILL');
  await kubelet?.stop();
  await manager?.stop();
  await closeRealtime?.();
  http?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const podsOf = async (job: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=${job}` })).items;
const secretsOf = async (job: string) => (await core.listNamespacedSecret({ namespace: ns, labelSelector: `${WORKER_SELECTOR},sedna.io/job-name=${job}` })).items;

describe('controllers in Kubernetes mode', () => {
  it('job -> pod + token secret -> agent (real process, real video) connects -> Running/Ready -> delete -> cleaned up, finalizer released', async () => {
    const k = kubernetesControllers();
    manager = k.controllers;
    closeRealtime = attachRealtime(http, { backend: k.backend, controllers: manager, tokens, sessions, log }).close;
    await manager.start();
    kubelet = new FakeKubelet(kc, new Set(['edge-1']));
    await kubelet.start();

    const t0 = Date.now();
    const created = await k.backend.create({
      metadata: { name: 'lobby', namespace: ns },
      spec: {
        cameras: [{ name: 'cam-a', node: 'edge-1', source: 'vtest.avi', fps: 2, loop: true }],
        models: { detector: { name: 'yolox-nano', decoder: 'yolox' } },
      },
    });
    const stored = async () => (await k.backend.get(ns, 'lobby'))!;
    const podName = workerName(created, 'edge-1');

    // The main controller: finalizer, a pod pinned to the node, its token Secret.
    await waitFor('finalizer and pod', async () => (await stored()).metadata.finalizers?.includes(FINALIZER) && (await podsOf('lobby')).length === 1);
    const [pod] = await podsOf('lobby');
    expect(pod.metadata!.name).toBe(podName);
    expect(pod.spec!.nodeName).toBe('edge-1');
    const [secret] = await secretsOf('lobby');
    const token = Buffer.from(secret.data!.token, 'base64').toString();
    expect(tokens.verify(token)).toMatchObject({ jobKey: `${ns}/lobby`, uid: created.metadata.uid, node: 'edge-1' });

    // The kubelet starts the agent from the pod spec; it connects with the Secret's token and gets its task.
    await waitFor('job Running', async () => (await stored()).status?.phase === 'Running', 120_000);
    const ready = await waitFor(
      'Ready (the agent accepted the task)',
      async () => {
        const j = await stored();
        return j.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') && j;
      },
      60_000,
      100,
    );
    const readyMs = Date.now() - t0;
    expect(ready.status!.workers).toEqual([expect.objectContaining({ node: 'edge-1', name: podName, phase: 'Running', restarts: 0 })]);
    // The agent reads the recording through the hostPath mount, detects and tracks the people in it.
    const streaming = await waitFor(
      'confirmed tracks',
      async () => {
        const cam = (await stored()).status?.cameras?.[0];
        return cam?.state === 'Streaming' && (cam.framesProcessed ?? 0) > 0 && (cam.activeTracks ?? 0) > 0 && cam;
      },
      90_000,
      200,
    );
    console.log(`[controllers] job Ready ${readyMs} ms after create; camera ${JSON.stringify(streaming)}`);

    // Delete: task:stop, the agent exits 0, the pod and Secret go, then the finalizer, then the job.
    const d0 = Date.now();
    await k.backend.delete(ns, 'lobby');
    await waitFor('job gone', async () => (await k.backend.get(ns, 'lobby')) === undefined, 120_000, 100);
    console.log(`[controllers] job deleted ${Date.now() - d0} ms after delete (agent stopped, pod and secret removed, finalizer released)`);
    expect(await podsOf('lobby')).toEqual([]);
    expect(await secretsOf('lobby')).toEqual([]);
    expect(kubelet.exits.find((e) => e.namespace === ns && e.pod === podName)?.code).toBe(0);
    await recorder.flush();
    const reasons = (await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.uid=${created.metadata.uid}` })).items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['WorkerCreated', 'WorkerDeleted']));
    await kubelet.stop();
    kubelet = undefined;
  }, 600_000);

  it('a controller process killed mid-reconcile leaves no duplicate pods after the restart', async () => {
    await manager?.stop();
    manager = undefined;
    const nodes = ['n-1', 'n-2', 'n-3', 'n-4'];
    const script = fileURLToPath(new URL('./fixtures/controller-child.ts', import.meta.url));
    child = spawn(process.execPath, ['--import', 'tsx', script, kube().kubeconfigPath, `${ns}/many`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitFor(`the controller process to start (stderr: ${stderr.slice(-500)})`, () => lines.includes('STARTED'), 120_000);

    const backend = new KubernetesJobBackend(kc, { resyncMs: 0 });
    const job: MultiEdgeInference = await backend.create({
      metadata: { name: 'many', namespace: ns },
      spec: { cameras: nodes.map((n, i) => ({ name: `cam-${i}`, node: n, source: `rtsp://cam-${i}.example/stream` })), models: { detector: { decoder: 'yolox' } } },
    });
    const first = await waitFor('the first pod', async () => (await podsOf('many'))[0], 120_000, 10).catch((err) => {
      throw new Error(`${(err as Error).message}; controller stdout: ${lines.join(' | ')}; stderr: ${stderr.slice(-2000)}`);
    });
    const firstNode = first.spec!.nodeName!;
    await waitFor('the reconcile to reach another worker', () => lines.some((l) => l.startsWith('ENSURE') && l !== `ENSURE ${firstNode}`));
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const atKill = await podsOf('many');
    expect(atKill.map((p) => p.spec!.nodeName), 'killed with one worker made and the others not').toEqual([firstNode]);

    // The restarted controllers (fresh caches) finish the job's workers; deterministic names keep them single.
    // Same settings as the killed process: a different image, URL or mount would roll its pods (a new template).
    const k = kubernetesControllers('as-controller-child');
    manager = k.controllers;
    await manager.start();
    await waitFor('a pod per node', async () => (await podsOf('many')).length === nodes.length, 120_000);
    await new Promise((r) => setTimeout(r, 500)); // a few more reconciles would show any duplicate
    const pods: V1Pod[] = await podsOf('many');
    expect(pods.map((p) => p.spec!.nodeName).sort()).toEqual(nodes);
    expect(pods.map((p) => p.metadata!.name).sort()).toEqual(nodes.map((n) => workerName(job, n)).sort());
    expect(pods.find((p) => p.metadata!.name === first.metadata!.name)!.metadata!.uid).toBe(first.metadata!.uid);
    expect((await secretsOf('many')).length).toBe(nodes.length);
    expect((await backend.get(ns, 'many'))!.metadata.finalizers).toEqual([FINALIZER]);
    console.log(`[controllers] killed with ${atKill.length}/${nodes.length} pods created; after restart ${pods.length} pods, no duplicates`);
    await backend.close();
  }, 600_000);

  it('two servers: only the leader runs controllers; after it dies the standby takes over and reconciles', async () => {
    await manager?.stop();
    manager = undefined;
    const env = { POD_NAMESPACE: ns, MEI_LEASE_DURATION_SECONDS: '5', MEI_PUBLIC_URL: 'http://mei.test:3000', MEI_EDGE_NODES: 'false' };
    // What server/control-plane.ts does in kubernetes mode: the controllers start when the replica leads.
    const replica = async (name: string) => {
      const mode = await createKubernetesMode({ kc, log, env: { ...env, POD_NAME: name } });
      const controllers = new ControllerManager({ backend: mode.backend, runtime: mode.runtime, mintToken: (c) => tokens.mint(c), serverUrl: () => 'http://mei.test:3000', log });
      let startedAt: number | undefined;
      const elector = mode.campaign({ onStartedLeading: async () => ((startedAt = Date.now()), await controllers.start()), onStoppedLeading: () => controllers.stop() })!;
      return { mode, controllers, elector, startedAt: () => startedAt };
    };
    const a = await replica('server-a');
    await waitFor('a leads', () => a.elector.isLeader, 120_000);
    const b = await replica('server-b');
    const writer = new KubernetesJobBackend(kc, { resyncMs: 0 });
    const spec = (node: string) => ({ cameras: [{ name: 'cam', node, source: 'rtsp://cam.example/s' }], models: { detector: { decoder: 'yolox' as const } } });
    await writer.create({ metadata: { name: 'ha-1', namespace: ns }, spec: spec('edge-a') });
    await waitFor('ha-1 pod (made by the leader)', async () => (await podsOf('ha-1')).length === 1);
    const [firstPod] = await podsOf('ha-1');
    expect(b.startedAt()).toBeUndefined();
    expect(b.controllers.jobs.list()).toEqual([]); // the standby's controllers never started

    // The leader dies: no lease release, its controllers gone.
    const crashedAt = Date.now();
    await a.elector.abandon();
    await a.controllers.stop();
    await writer.create({ metadata: { name: 'ha-2', namespace: ns }, spec: spec('edge-b') });
    await waitFor('ha-2 pod (made by the new leader)', async () => (await podsOf('ha-2')).length === 1, 120_000);
    const failoverMs = Date.now() - crashedAt;
    console.log(`[controllers] failover: standby led ${b.startedAt()! - crashedAt} ms after the leader died; new job's pod ${failoverMs} ms after`);
    expect(b.startedAt()).toBeGreaterThan(crashedAt);
    const pods = await podsOf('ha-1');
    expect(pods.map((p) => p.metadata!.uid)).toEqual([firstPod.metadata!.uid]);
    await b.controllers.stop();
    await Promise.all([a.mode.close(), b.mode.close(), writer.close()]);
  }, 600_000);
});
