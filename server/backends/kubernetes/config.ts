// Kubernetes mode from the environment: the kubeconfig (KUBECONFIG, else in-cluster, else ~/.kube/config), the
// JobBackend on the apiserver, the Pod runtime, an Event recorder, and leader election on a Lease so that of
// several replicas only one runs the controllers. `createKubernetesMode()` is what server/control-plane.ts
// calls for MEI_MODE=kubernetes; see docs/kubernetes.md for every variable.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, KubeConfig, loadYaml, type V1CustomResourceDefinition, type V1Toleration } from '@kubernetes/client-node';
import { CRD_PATH } from '@mei/contracts/crd';
import type { Logger } from '../../log.ts';
import { KubernetesJobBackend } from './job-backend.ts';
import { statusOf } from './errors.ts';
import { KubeEventRecorder } from './events.ts';
import { LeaderElector } from './leader.ts';
import { DEFAULT_AGENT_IMAGE } from './pod-template.ts';
import { allowedImagePrefixes } from './image-policy.ts';
import { PodRuntime } from './worker-runtime.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The environment (process.env, or a test's own). */
export type Env = Record<string, string | undefined>;
export const DEFAULT_SYSTEM_NAMESPACE = 'mei-system';

/** KUBECONFIG (one file or a path list, merged), else the in-cluster service account, else ~/.kube/config. */
export function loadKubeConfig(env: Env = process.env): KubeConfig {
  const kc = new KubeConfig();
  const files = (env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
  if (files.length) {
    for (const f of files) if (!existsSync(f)) throw new Error(`KUBECONFIG names ${f}, which does not exist`);
    kc.loadFromFile(files[0]);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      kc.mergeConfig(more, true);
    }
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    const home = path.join(env.HOME ?? '', '.kube', 'config');
    if (!existsSync(home)) throw new Error('MEI_MODE=kubernetes needs a cluster: set KUBECONFIG, run in a pod, or create ~/.kube/config');
    kc.loadFromFile(home);
  }
  if (!kc.getCurrentCluster()) throw new Error(`the kubeconfig has no current cluster (context "${kc.getCurrentContext()}")`);
  return kc;
}

export interface KubernetesSettings {
  /** Namespace of the Lease (and of this server's pod): POD_NAMESPACE, MEI_NAMESPACE, the in-cluster one, mei-system. */
  systemNamespace: string;
  identity: string;
  /** MEI_LEASE_NAME: the Lease the replicas elect their leader on (one per installation). */
  leaseName: string;
  podName?: string;
  leaderElection: boolean;
  leaseDurationSeconds: number;
  agentImage: string;
  edgeNodes: boolean;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  terminationGracePeriodSeconds: number;
  hostModelDir?: string;
  hostDataDir?: string;
  hostStateDir?: string;
  installCrd: boolean;
  /** MEI_NAMESPACES: the namespaces whose jobs this server manages (RBAC per namespace); undefined: all. */
  namespaces?: string[];
  /** MEI_EDGE_NODE_SELECTOR / MEI_EDGE_TOLERATIONS (JSON): worker pods' instead of KubeEdge's defaults. */
  edgeNodeSelector?: Record<string, string>;
  edgeTolerations?: V1Toleration[];
}

function intEnv(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function boolEnv(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** MEI_NAMESPACES: comma- or space-separated namespace names; unset, empty or "*": every namespace. */
export function parseNamespaces(raw: string | undefined): string[] | undefined {
  const names = (raw ?? '').split(/[\s,]+/).filter(Boolean);
  if (names.length === 0 || (names.length === 1 && names[0] === '*')) return undefined;
  for (const n of names) {
    if (n.length > 63 || !DNS_LABEL.test(n)) throw new Error(`MEI_NAMESPACES must list namespace names (lowercase letters, digits, '-'; at most 63 characters) or be "*", got "${n}"`);
  }
  return [...new Set(names)];
}

/** A JSON environment variable checked by `valid` (which names what it expects); undefined when unset. */
function jsonEnv<T>(env: Env, name: string, expected: string, valid: (v: unknown) => boolean): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${name} must be JSON (${expected}): ${(err as Error).message}`);
  }
  if (!valid(v)) throw new Error(`${name} must be ${expected}, got ${raw}`);
  return v as T;
}
const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const TOLERATION_KEYS = new Set(['key', 'operator', 'value', 'effect', 'tolerationSeconds']);

export function kubernetesSettings(env: Env = process.env): KubernetesSettings {
  const inCluster = existsSync(path.join(SA_DIR, 'namespace')) ? readFileSync(path.join(SA_DIR, 'namespace'), 'utf8').trim() : undefined;
  const pull = env.MEI_AGENT_IMAGE_PULL_POLICY;
  if (pull && !['Always', 'IfNotPresent', 'Never'].includes(pull)) throw new Error(`MEI_AGENT_IMAGE_PULL_POLICY must be Always, IfNotPresent or Never, got "${pull}"`);
  const podName = env.POD_NAME || undefined;
  return {
    systemNamespace: env.POD_NAMESPACE || env.MEI_NAMESPACE || inCluster || DEFAULT_SYSTEM_NAMESPACE,
    // Unique even when two processes share a pod name (a restarted container must not renew the old lease).
    identity: `${podName ?? hostname()}_${randomBytes(4).toString('hex')}`,
    podName,
    leaseName: env.MEI_LEASE_NAME || 'mei-server',
    leaderElection: boolEnv(env, 'MEI_LEADER_ELECTION', true),
    leaseDurationSeconds: intEnv(env, 'MEI_LEASE_DURATION_SECONDS', 15, 2, 300),
    agentImage: env.MEI_AGENT_IMAGE || DEFAULT_AGENT_IMAGE,
    edgeNodes: boolEnv(env, 'MEI_EDGE_NODES', true),
    imagePullPolicy: pull as KubernetesSettings['imagePullPolicy'],
    terminationGracePeriodSeconds: intEnv(env, 'MEI_WORKER_GRACE_SECONDS', 30, 0, 3600),
    hostModelDir: env.MEI_EDGE_MODEL_DIR || undefined,
    hostDataDir: env.MEI_EDGE_DATA_DIR || undefined,
    hostStateDir: env.MEI_EDGE_STATE_DIR || undefined,
    installCrd: boolEnv(env, 'MEI_INSTALL_CRD', false),
    namespaces: parseNamespaces(env.MEI_NAMESPACES),
    edgeNodeSelector: jsonEnv(env, 'MEI_EDGE_NODE_SELECTOR', 'an object of label names to string values', (v) => isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string')),
    edgeTolerations: jsonEnv(env, 'MEI_EDGE_TOLERATIONS', 'an array of tolerations {key, operator, value, effect, tolerationSeconds}', (v) =>
      Array.isArray(v) && v.every((t) => isPlainObject(t) && Object.keys(t).every((k) => TOLERATION_KEYS.has(k))),
    ),
  };
}

/** Creates or updates the CRD from crds/ (development clusters; deploy/ installs it in production). */
export async function installCrd(kc: KubeConfig, file = CRD_PATH, timeoutMs = 30_000): Promise<void> {
  // loadYaml, not js-yaml: the typed client serializes its own field names (`_default`, `xKubernetesListType`).
  const body = loadYaml<V1CustomResourceDefinition>(readFileSync(file, 'utf8'));
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const name = body.metadata!.name!;
  try {
    await api.createCustomResourceDefinition({ body });
  } catch (err) {
    if (statusOf(err)?.code !== 409) throw err;
    const current = await api.readCustomResourceDefinition({ name });
    await api.replaceCustomResourceDefinition({ name, body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata!.resourceVersion } } });
  }
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const crd = await api.readCustomResourceDefinition({ name });
    if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface LeadershipCallbacks {
  onStartedLeading(): void | Promise<void>;
  /** 'lost': the lease could not be renewed or was taken (exit: controllers do not restart); 'stopped': close() released it. */
  onStoppedLeading(reason: 'lost' | 'stopped'): void | Promise<void>;
}

export interface KubernetesMode {
  kc: KubeConfig;
  settings: KubernetesSettings;
  backend: KubernetesJobBackend;
  runtime: PodRuntime;
  recorder: KubeEventRecorder;
  /**
   * Runs `cb.onStartedLeading` when this replica becomes the leader (at once when MEI_LEADER_ELECTION=false)
   * and `cb.onStoppedLeading` when it loses the lease. Call once.
   */
  campaign(cb: LeadershipCallbacks): LeaderElector | undefined;
  /** Releases the lease (if held) and stops watches. Pods keep running: they belong to their jobs. */
  close(): Promise<void>;
}

export async function createKubernetesMode(o: { env?: Env; log: Logger; kc?: KubeConfig }): Promise<KubernetesMode> {
  const env = o.env ?? process.env;
  const settings = kubernetesSettings(env);
  const kc = o.kc ?? loadKubeConfig(env);
  if (settings.installCrd) await installCrd(kc);
  const recorder = new KubeEventRecorder(kc, { instance: settings.podName, log: o.log });
  const { namespaces } = settings;
  const backend = new KubernetesJobBackend(kc, { namespaces, onError: (e) => o.log.warn(`job watch: ${(e as Error)?.message ?? e}`) });
  const runtime = new PodRuntime(kc, {
    log: o.log,
    namespaces,
    recorder,
    image: settings.agentImage,
    allowedImages: allowedImagePrefixes(env),
    edgeNodes: settings.edgeNodes,
    edgeNodeSelector: settings.edgeNodeSelector,
    edgeTolerations: settings.edgeTolerations,
    imagePullPolicy: settings.imagePullPolicy,
    terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
    hostModelDir: settings.hostModelDir,
    hostDataDir: settings.hostDataDir,
    hostStateDir: settings.hostStateDir,
  });
  // Fail at startup, naming the problem, when the CRD is missing or RBAC forbids reading jobs.
  await (namespaces ? backend.list() : backend.list(settings.systemNamespace)).catch((err) => {
    const s = statusOf(err);
    if (s?.code === 404) throw new Error('the MultiEdgeInference CRD is not installed: kubectl apply -k deploy/ (or set MEI_INSTALL_CRD=1 for a development cluster)');
    throw err;
  });
  o.log.info(
    `kubernetes mode: apiserver ${kc.getCurrentCluster()?.server}, identity ${settings.identity}, lease ${settings.systemNamespace}/${settings.leaseName}, jobs in ${namespaces ? namespaces.join(', ') : 'every namespace'}`,
  );
  if (!env.MEI_PUBLIC_URL) o.log.warn('MEI_PUBLIC_URL is not set: worker pods will be told to reach this server at its local address, which edge nodes cannot');
  let elector: LeaderElector | undefined;
  let campaigned = false;
  return {
    kc,
    settings,
    backend,
    runtime,
    recorder,
    campaign(cb) {
      if (campaigned) throw new Error('campaign() was already called');
      campaigned = true;
      if (!settings.leaderElection) {
        void Promise.resolve(cb.onStartedLeading()).catch((err) => o.log.error('starting the controllers failed:', err));
        return undefined;
      }
      const lease = settings.leaseDurationSeconds;
      elector = new LeaderElector(kc, {
        namespace: settings.systemNamespace,
        name: settings.leaseName,
        identity: settings.identity,
        leaseDurationSeconds: lease,
        // client-go's defaults scaled to the lease: 15 s lease -> 10 s renew deadline, 2 s retry.
        renewDeadlineMs: Math.round((lease * 1000 * 2) / 3),
        retryPeriodMs: Math.max(200, Math.round((lease * 1000 * 2) / 15)),
        pod: settings.podName ? { namespace: settings.systemNamespace, name: settings.podName } : undefined,
        log: o.log,
        ...cb,
      });
      elector.start();
      return elector;
    },
    async close() {
      await elector?.stop();
      await runtime.close();
      await backend.close();
      await recorder.flush();
    },
  };
}
