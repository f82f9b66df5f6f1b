// The Kubernetes WorkerRuntime: each (job, node) worker is a Pod pinned to that node (pod-template.ts) with a
// per-worker Secret holding its agent token, both owned by the job. A pod informer (list+watch) turns pod
// phases, restarts and waiting reasons into ObservedWorkers. Pods and Secrets are deleted explicitly rather
// than left to the garbage collector, so cleanup does not depend on one running (and the job's finalizer can
// wait for it). Events (Created/Deleted/Failed) go to the job through the EventRecorder. Each pod is stamped
// with the hash of its spec (sedna.io/template-hash), which the main controller compares with the hash of the
// pod it would create now to roll workers whose template changed (controllers/worker-rollout.ts).
import { CoreV1Api, type KubeConfig, type KubernetesListObject, type V1ContainerStatus, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { jobKey as keyOf, parseJobKey, type MultiEdgeInference } from '@mei/contracts';
import { CRD_KIND } from '@mei/contracts/crd';
import type { ObservedWorker, WorkerLaunch, WorkerPhase } from '../types.ts';
import type { Logger } from '../../log.ts';
import type { TemplatedWorkerRuntime } from '../worker-template.ts';
import { statusOf, translate } from './errors.ts';
import { noopRecorder, type EventRecorder } from './events.ts';
import { Informer, NamespacedInformers, type SharedInformer } from './informer.ts';
import {
  AGENT_CONTAINER,
  ANNOTATION_NODE,
  ANNOTATION_TEMPLATE_HASH,
  LABEL_JOB_NAME,
  WORKER_SELECTOR,
  labelValue,
  podTemplateHash,
  withTemplateHash,
  workerName,
  workerPod,
  workerSecret,
  type WorkerTemplateOptions,
} from './pod-template.ts';

export interface PodRuntimeOptions extends WorkerTemplateOptions {
  log: Logger;
  /** Watch worker pods in these namespaces only (MEI_NAMESPACES); undefined: every namespace. */
  namespaces?: readonly string[];
  recorder?: EventRecorder;
  /** A container still crash-looping after this many restarts makes the worker Failed (local runtime: 10). */
  maxRestarts?: number;
  /**
   * A pod still there this long after its grace period ended (deletionTimestamp: e.g. its edge node is offline)
   * is force-deleted by the next remove(). Default 60 s.
   */
  forceDeleteAfterMs?: number;
  fieldManager?: string;
}

/** ensure() found a worker of an older job (same name) or one still terminating: retry later. */
export class WorkerBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerBusyError';
  }
}

/** Kubernetes time text; typed lists hand out Dates, watch events strings. */
const iso = (t: unknown): string | undefined => (t instanceof Date ? t.toISOString().replace('.000Z', 'Z') : typeof t === 'string' ? t : undefined);
/** Reasons a container will not get past by retrying. */
const PERMANENT_WAITING = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError']);

/** The job a worker pod or secret belongs to, from its controller owner reference. */
export function ownerOf(obj: V1Pod | V1Secret): { key: string; uid: string } | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.kind === CRD_KIND && r.controller);
  if (!ref || !obj.metadata?.namespace) return undefined;
  return { key: `${obj.metadata.namespace}/${ref.name}`, uid: ref.uid };
}

const nodeOf = (obj: V1Pod | V1Secret) => obj.metadata?.annotations?.[ANNOTATION_NODE] ?? (obj as V1Pod).spec?.nodeName ?? '';

function describeWaiting(cs: V1ContainerStatus | undefined): string | undefined {
  const w = cs?.state?.waiting;
  if (!w?.reason) return undefined;
  const last = cs?.lastState?.terminated;
  const exit = last ? ` (last exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ''})` : '';
  return `${w.reason}${w.message ? `: ${w.message}` : ''}${exit}`;
}

/** A pod as MEI's controllers see a worker. */
export function observeWorkerPod(pod: V1Pod, maxRestarts = 10): ObservedWorker | undefined {
  const owner = ownerOf(pod);
  if (!owner) return undefined;
  const cs = pod.status?.containerStatuses?.find((c) => c.name === AGENT_CONTAINER);
  const restarts = cs?.restartCount ?? 0;
  const waiting = cs?.state?.waiting?.reason;
  let phase: WorkerPhase = 'Pending';
  let message: string | undefined;
  switch (pod.status?.phase) {
    case 'Succeeded':
      phase = 'Succeeded';
      break;
    case 'Failed': {
      phase = 'Failed';
      const t = cs?.state?.terminated;
      message = pod.status.message ?? (t ? `exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` : pod.status.reason);
      break;
    }
    case 'Running':
      if (cs?.state?.running) phase = 'Running';
      else message = describeWaiting(cs) ?? 'restarting';
      break;
    case 'Unknown':
      message = `node ${pod.spec?.nodeName} is not reporting (pod status Unknown)`;
      break;
    default: {
      const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
      message = describeWaiting(cs) ?? unscheduled?.message ?? pod.status?.reason ?? undefined;
    }
  }
  if (phase === 'Pending' && waiting && (PERMANENT_WAITING.has(waiting) || (waiting === 'CrashLoopBackOff' && restarts >= maxRestarts))) {
    phase = 'Failed';
    message = waiting === 'CrashLoopBackOff' ? `${describeWaiting(cs)}; gave up after ${restarts} restarts` : describeWaiting(cs);
  }
  if (pod.metadata?.deletionTimestamp) message = message ? `terminating; ${message}` : 'terminating';
  const templateHash = pod.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
  return {
    jobKey: owner.key,
    jobUid: owner.uid,
    node: nodeOf(pod),
    name: pod.metadata!.name!,
    phase,
    restarts,
    ...(message ? { message } : {}),
    ...(cs?.state?.running?.startedAt ? { startedAt: iso(cs.state.running.startedAt) } : {}),
    ...(templateHash ? { templateHash } : {}),
    ...(pod.metadata?.deletionTimestamp ? { terminating: true } : {}),
  };
}

export class PodRuntime implements TemplatedWorkerRuntime {
  private readonly core: CoreV1Api;
  private readonly pods: SharedInformer<V1Pod>;
  private readonly listeners = new Set<(jobKey: string) => void>();
  private readonly recorder: EventRecorder;
  /** Pods (by uid) whose failure was already recorded as an Event. */
  private readonly failureRecorded = new Set<string>();
  private started?: Promise<void>;
  private closed = false;

  constructor(
    kc: KubeConfig,
    private readonly options: PodRuntimeOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.recorder = options.recorder ?? noopRecorder;
    const opts = { labelSelector: WORKER_SELECTOR, onError: (err: unknown) => options.log.warn(`pod watch: ${(err as Error)?.message ?? err}`) };
    // Only the managed namespaces' pods when the server's RBAC is per namespace (MEI_NAMESPACES).
    this.pods = options.namespaces
      ? new NamespacedInformers<V1Pod>(options.namespaces, (namespace) =>
          new Informer<V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => this.core.listNamespacedPod({ namespace, labelSelector: WORKER_SELECTOR }) as Promise<KubernetesListObject<V1Pod>>, opts),
        )
      : new Informer<V1Pod>(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces({ labelSelector: WORKER_SELECTOR }) as Promise<KubernetesListObject<V1Pod>>, opts);
    this.pods.subscribe((type, pod) => this.onPod(type, pod));
  }

  /** Starts the pod informer (also done on first use); rejects when pods cannot be listed. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('runtime is closed'));
    this.started ??= this.pods.start().catch((err) => {
      this.started = undefined;
      throw translate(err, 'pods');
    });
    return this.started;
  }

  async ensure(launch: WorkerLaunch): Promise<void> {
    await this.start();
    const { job, node } = launch;
    const namespace = job.metadata.namespace;
    const name = workerName(job, node);
    const cached = this.pods.get(name, namespace);
    if (cached && (await this.settleExisting(cached, job))) return;

    // The Secret first: the pod's MEI_AGENT_TOKEN refers to it.
    await this.ensureSecret(job, node, launch.token);
    const pod = withTemplateHash(workerPod(job, node, launch.serverUrl, this.options));
    try {
      await this.core.createNamespacedPod({ namespace, body: pod, fieldManager: this.options.fieldManager ?? 'mei-server' });
    } catch (err) {
      if (statusOf(err)?.code !== 409) throw translate(err, `pod "${name}"`);
      // Created meanwhile (a concurrent ensure, or before a restart): the same worker unless it is an old job's.
      const current = await this.core.readNamespacedPod({ name, namespace });
      if (await this.settleExisting(current, job)) return;
      throw new WorkerBusyError(`pod ${namespace}/${name} belongs to an older job`);
    }
    this.options.log.info(`job ${keyOf(job)}: created pod ${name} on node ${node}`);
    this.recorder.record(job, 'Normal', 'WorkerCreated', `Created pod ${name} for node ${node}`);
  }

  templateHash(launch: WorkerLaunch): string {
    return podTemplateHash(workerPod(launch.job, launch.node, launch.serverUrl, this.options));
  }

  /**
   * Server-side dry run of the pod (validation and admission, e.g. quota or Pod Security; nothing stored) under
   * a generated name, since the worker's own name is taken by the pod it would replace.
   */
  async checkTemplate(launch: WorkerLaunch): Promise<string | undefined> {
    const pod = workerPod(launch.job, launch.node, launch.serverUrl, this.options);
    const { name, namespace } = pod.metadata as { name: string; namespace: string };
    const body: V1Pod = { ...pod, metadata: { ...pod.metadata, name: undefined, generateName: `${name}-` } };
    try {
      await this.core.createNamespacedPod({ namespace, body, dryRun: 'All', fieldManager: this.options.fieldManager ?? 'mei-server' });
      return undefined;
    } catch (err) {
      const s = statusOf(err);
      // 400/403/422: the apiserver looked at the pod and said no; anything else says nothing about the template.
      // The message names the generated name; say the worker's own.
      if (s && [400, 403, 422].includes(s.code)) return (s.message ?? `${s.code} ${s.reason ?? 'rejected'}`).replaceAll(new RegExp(`${name}-[a-z0-9]{5}\\b`, 'g'), name);
      throw translate(err, `pod "${name}"`);
    }
  }

  recordEvent(job: Pick<MultiEdgeInference, 'metadata'>, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.recorder.record(job, type, reason, message);
  }

  /**
   * True when `pod` is this job's live worker (nothing to do). Otherwise it is an older job's worker or one
   * still terminating: start its removal and throw, so the caller retries once it is gone.
   */
  private async settleExisting(pod: V1Pod, job: MultiEdgeInference): Promise<boolean> {
    const sameJob = ownerOf(pod)?.uid === job.metadata.uid;
    if (sameJob && !pod.metadata?.deletionTimestamp) return true;
    await this.deletePod(pod, job);
    throw new WorkerBusyError(`waiting for pod ${pod.metadata!.namespace}/${pod.metadata!.name} (${sameJob ? 'removed' : 'of an older job with this name'}) to terminate`);
  }

  private async ensureSecret(job: MultiEdgeInference, node: string, token: string): Promise<void> {
    const body = workerSecret(job, node, token);
    const { name, namespace } = body.metadata as { name: string; namespace: string };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.core.createNamespacedSecret({ namespace, body, fieldManager: this.options.fieldManager ?? 'mei-server' });
        return;
      } catch (err) {
        if (statusOf(err)?.code !== 409) throw translate(err, `secret "${name}"`);
      }
      // Exists: this job's (keep it: its token is as good as a new one) or an older job's (replace it).
      const current = await this.core.readNamespacedSecret({ name, namespace }).catch((e) => {
        if (statusOf(e)?.code === 404) return undefined;
        throw translate(e, `secret "${name}"`);
      });
      if (current && ownerOf(current)?.uid === job.metadata.uid) return;
      if (current) await this.deleteQuietly(() => this.core.deleteNamespacedSecret({ name, namespace }));
    }
    throw new WorkerBusyError(`secret ${namespace}/${name} keeps being replaced`);
  }

  async remove(jobKey: string, node?: string): Promise<void> {
    await this.start();
    const { namespace, name } = parseJobKey(jobKey);
    const selector = `${WORKER_SELECTOR},${LABEL_JOB_NAME}=${labelValue(name)}`;
    const mine = <T extends V1Pod | V1Secret>(o: T) => ownerOf(o)?.key === jobKey && (node === undefined || nodeOf(o) === node);
    // From the apiserver, not the cache: a pod created a moment ago must not survive its job.
    const [pods, secrets] = await Promise.all([
      this.core.listNamespacedPod({ namespace, labelSelector: selector }),
      this.core.listNamespacedSecret({ namespace, labelSelector: selector }),
    ]).catch((err) => {
      throw translate(err, `workers of ${jobKey}`);
    });
    await Promise.all(pods.items.filter(mine).map((p) => this.deletePod(p)));
    await Promise.all(
      secrets.items.filter(mine).map((s) => this.deleteQuietly(() => this.core.deleteNamespacedSecret({ name: s.metadata!.name!, namespace }))),
    );
  }

  /** Graceful delete; a pod stuck terminating past forceDeleteAfterMs (its node is gone) is force-deleted. */
  private async deletePod(pod: V1Pod, job?: Pick<MultiEdgeInference, 'metadata'>): Promise<void> {
    const { name, namespace, deletionTimestamp } = pod.metadata as { name: string; namespace: string; deletionTimestamp?: Date | string };
    const owner = job ?? this.ownerRef(pod);
    if (!deletionTimestamp) {
      const deleted = await this.deleteQuietly(() => this.core.deleteNamespacedPod({ name, namespace, propagationPolicy: 'Background' }));
      if (deleted && owner) {
        this.options.log.info(`deleted pod ${namespace}/${name}`);
        this.recorder.record(owner, 'Normal', 'WorkerDeleted', `Deleted pod ${name} of node ${nodeOf(pod)}`);
      }
      return;
    }
    const overdue = Date.now() - Date.parse(iso(deletionTimestamp)!) > (this.options.forceDeleteAfterMs ?? 60_000);
    if (!overdue) return;
    const deleted = await this.deleteQuietly(() => this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }));
    if (deleted && owner) {
      this.options.log.warn(`force-deleted pod ${namespace}/${name}: still terminating on node ${nodeOf(pod)}`);
      this.recorder.record(owner, 'Warning', 'WorkerForceDeleted', `Pod ${name} did not terminate on node ${nodeOf(pod)}; deleted it without waiting for the node`);
    }
  }

  /** Runs a delete; false when the object was already gone. */
  private async deleteQuietly(del: () => Promise<unknown>): Promise<boolean> {
    try {
      await del();
      return true;
    } catch (err) {
      if (statusOf(err)?.code === 404) return false;
      throw translate(err, 'worker object');
    }
  }

  private ownerRef(pod: V1Pod): Pick<MultiEdgeInference, 'metadata'> | undefined {
    const owner = ownerOf(pod);
    if (!owner) return undefined;
    const { namespace, name } = parseJobKey(owner.key);
    return { metadata: { namespace, name, uid: owner.uid } as MultiEdgeInference['metadata'] };
  }

  async list(jobKey?: string): Promise<ObservedWorker[]> {
    await this.start();
    const namespace = jobKey ? parseJobKey(jobKey).namespace : undefined;
    const out: ObservedWorker[] = [];
    for (const pod of this.pods.list(namespace)) {
      const w = observeWorkerPod(pod, this.options.maxRestarts);
      if (w && (jobKey === undefined || w.jobKey === jobKey)) out.push(w);
    }
    return out;
  }

  watch(onChange: (jobKey: string) => void): () => void {
    this.listeners.add(onChange);
    void this.start().catch((err) => this.options.log.error(`pod informer: ${(err as Error).message}`));
    return () => this.listeners.delete(onChange);
  }

  private onPod(type: string, pod: V1Pod): void {
    const w = observeWorkerPod(pod, this.options.maxRestarts);
    if (!w) return;
    const uid = pod.metadata?.uid ?? '';
    if (type === 'DELETED') this.failureRecorded.delete(uid);
    else if (w.phase === 'Failed' && !this.failureRecorded.has(uid)) {
      this.failureRecorded.add(uid);
      const owner = this.ownerRef(pod);
      if (owner) this.recorder.record(owner, 'Warning', 'WorkerFailed', `Worker on node ${w.node} failed${w.message ? `: ${w.message}` : ''}`);
    }
    for (const l of this.listeners) l(w.jobKey);
  }

  /** Stops watching. Pods keep running: they belong to their jobs, not to this server process. */
  async close(): Promise<void> {
    this.closed = true;
    this.pods.stop();
    this.listeners.clear();
  }
}

