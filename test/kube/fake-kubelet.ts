// A stand-in for the kubelet of some edge nodes (mock: there are no nodes, containers or images here). It
// watches MEI's worker pods bound to its nodes and runs each pod's agent container as a local process the way
// a kubelet would: env resolved from the pod spec (secretKeyRef read from the Secret), $(VAR) expanded in
// args, hostPath mounts mapped to the host folders, `mei-agent` replaced by the repo's bin. It writes pod
// status (Running, restarts with CrashLoopBackOff, Succeeded) and finishes graceful deletions (SIGTERM, then
// delete with grace 0), so the controllers see real pod lifecycles.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig, type KubernetesListObject, type V1Pod } from '@kubernetes/client-node';
import { Informer } from '../../server/backends/kubernetes/informer.ts';
import { AGENT_CONTAINER, WORKER_SELECTOR } from '../../server/backends/kubernetes/pod-template.ts';

export const AGENT_BIN = fileURLToPath(new URL('../../edge-agent/bin/mei-agent.mjs', import.meta.url));

interface Running {
  proc?: ChildProcess;
  restarts: number;
  terminating: boolean;
  timer?: NodeJS.Timeout;
}

const k8sTime = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class FakeKubelet {
  private readonly core: CoreV1Api;
  private readonly pods: Informer<V1Pod>;
  private readonly running = new Map<string, Running>();
  readonly logs: string[] = [];
  /** Every container exit, by namespace and pod (pod names repeat across namespaces: they follow the job's name). */
  readonly exits: Array<{ namespace: string; pod: string; code: number | null }> = [];
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly nodes: Set<string>,
    private readonly baseEnv: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME },
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.pods = new Informer<V1Pod>(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces({ labelSelector: WORKER_SELECTOR }) as Promise<KubernetesListObject<V1Pod>>, {
      labelSelector: WORKER_SELECTOR,
    });
    this.pods.subscribe((type, pod) => void this.sync(type, pod).catch((e) => this.logs.push(`kubelet error: ${(e as Error).message}`)));
  }

  async start(): Promise<void> {
    await this.pods.start();
    for (const pod of this.pods.list()) await this.sync('ADDED', pod);
  }

  private async sync(type: string, pod: V1Pod): Promise<void> {
    if (this.stopped || !this.nodes.has(pod.spec?.nodeName ?? '')) return;
    const uid = pod.metadata!.uid!;
    const state = this.running.get(uid);
    if (type === 'DELETED') {
      state?.proc?.kill('SIGKILL');
      this.running.delete(uid);
      return;
    }
    if (pod.metadata?.deletionTimestamp) {
      if (state?.terminating) return;
      if (state) state.terminating = true;
      clearTimeout(state?.timer);
      if (state?.proc && state.proc.exitCode === null && state.proc.signalCode === null) {
        const exited = new Promise((r) => state.proc!.once('exit', r));
        state.proc.kill('SIGTERM');
        const kill = setTimeout(() => state.proc?.kill('SIGKILL'), (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        await exited;
        clearTimeout(kill);
      }
      await this.core.deleteNamespacedPod({ name: pod.metadata.name!, namespace: pod.metadata.namespace!, gracePeriodSeconds: 0 }).catch(() => {});
      return;
    }
    if (state || ['Succeeded', 'Failed'].includes(pod.status?.phase ?? '')) return;
    const fresh: Running = { restarts: 0, terminating: false };
    this.running.set(uid, fresh);
    await this.run(pod, fresh);
  }

  /** Env as the container would see it. */
  private async containerEnv(pod: V1Pod): Promise<Record<string, string>> {
    const c = pod.spec!.containers.find((x) => x.name === AGENT_CONTAINER)!;
    const mounts = new Map<string, string>();
    for (const m of c.volumeMounts ?? []) {
      const hostPath = pod.spec!.volumes?.find((v) => v.name === m.name)?.hostPath?.path;
      if (hostPath) mounts.set(m.mountPath, hostPath);
    }
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      let value = e.value ?? '';
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        const secret = await this.core.readNamespacedSecret({ name: ref.name!, namespace: pod.metadata!.namespace! });
        value = Buffer.from(secret.data![ref.key], 'base64').toString('utf8');
      }
      // No container filesystem: a path inside a hostPath mount is the host folder itself.
      for (const [mountPath, hostPath] of mounts) if (value === mountPath || value.startsWith(`${mountPath}/`)) value = hostPath + value.slice(mountPath.length);
      env[e.name] = value;
    }
    return env;
  }

  private async run(pod: V1Pod, state: Running): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const c = pod.spec!.containers.find((x) => x.name === AGENT_CONTAINER)!;
    const env = await this.containerEnv(pod);
    const args = (c.args ?? []).map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, v: string) => env[v] ?? `$(${v})`));
    const argv = c.command?.[0] === 'mei-agent' ? [AGENT_BIN, ...(c.command.slice(1) ?? []), ...args] : [...(c.command ?? []), ...args];
    if (this.stopped || state.terminating) return;
    const proc = spawn(process.execPath, argv, { env: { ...this.baseEnv, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    state.proc = proc;
    for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on('line', (l) => this.logs.push(`[${name}] ${l}`));
    await this.setStatus(namespace, name, 'Running', { ready: true, restartCount: state.restarts, state: { running: { startedAt: k8sTime() } } });
    proc.once('exit', (code, signal) => {
      this.exits.push({ namespace, pod: name, code });
      this.logs.push(`[${name}] exited with ${code ?? signal}`);
      if (this.stopped || state.terminating) return;
      const terminated = { exitCode: code ?? 137, reason: code === 0 ? 'Completed' : 'Error' };
      if (code === 0) return void this.setStatus(namespace, name, 'Succeeded', { ready: false, restartCount: state.restarts, state: { terminated } });
      // restartPolicy OnFailure: back off, then run the container again.
      state.restarts++;
      void this.setStatus(namespace, name, 'Running', { ready: false, restartCount: state.restarts, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated } });
      state.timer = setTimeout(() => void this.run(pod, state).catch(() => {}), 1000);
    });
  }

  private async setStatus(namespace: string, name: string, phase: string, container: Record<string, unknown>): Promise<void> {
    const status = { phase, containerStatuses: [{ name: AGENT_CONTAINER, image: 'local', imageID: '', ...container }] };
    await this.core.patchNamespacedPodStatus({ name, namespace, body: [{ op: 'replace', path: '/status', value: status }] }).catch((e) => {
      this.logs.push(`kubelet: status of ${name} not written: ${(e as Error).message.split('\n')[0]}`);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pods.stop();
    for (const s of this.running.values()) {
      clearTimeout(s.timer);
      s.proc?.kill('SIGKILL');
    }
  }
}
