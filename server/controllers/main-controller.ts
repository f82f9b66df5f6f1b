// The main controller: one worker per edge node of each job, a finalizer so deletion waits for the workers
// to be gone, workers replaced when their template changed (worker-rollout.ts), and the job's phase and
// conditions from what the runtime observes.
import { jobKey, jobNodes, parseJobKey, type MultiEdgeInference, type MultiEdgeInferenceStatus } from '@mei/contracts';
import type { JobBackend, ObservedWorker, WorkerRuntime } from '../backends/types.ts';
import type { AgentRegistry } from './agent-registry.ts';
import type { ReconcileResult, Reconciler } from '../controller-runtime/controller.ts';
import type { JobInformer } from '../controller-runtime/job-informer.ts';
import type { Logger } from '../log.ts';
import { findCondition, patchWorkerEntries, setCondition, updateStatusWithRetry, updateWithRetry } from './status.ts';
import type { WorkerCache } from '../controller-runtime/worker-cache.ts';
import { templateCondition, WorkerRollout, type TemplateReport } from './worker-rollout.ts';

export const FINALIZER = 'sedna.io/multiedgeinference';
/** How long an agent that was sent task:stop may take to exit on its own before its worker is removed. */
export const STOP_GRACE_MS = 5_000;

export interface MainControllerDeps {
  backend: JobBackend;
  runtime: WorkerRuntime;
  jobs: JobInformer;
  workers: WorkerCache;
  agents: AgentRegistry;
  mintToken(claims: { jobKey: string; uid: string; node: string }): string;
  /** Where agents connect (known once the HTTP server listens). */
  serverUrl(): string;
  now?: () => number;
  log: Logger;
}

const isTerminal = (phase: MultiEdgeInferenceStatus['phase']) => phase === 'Succeeded' || phase === 'Failed';

export class MainController implements Reconciler {
  private readonly now: () => number;
  private readonly rollout: WorkerRollout;
  constructor(private readonly deps: MainControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.rollout = new WorkerRollout(deps.runtime, deps.log, this.now);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const job = this.deps.jobs.get(key);
    if (!job) return this.removeOrphans(key);
    if (job.metadata.deletionTimestamp) return this.finalize(key, job);

    let current: MultiEdgeInference | undefined = job;
    if (!job.metadata.finalizers?.includes(FINALIZER)) {
      current = await updateWithRetry(this.deps.backend, job, (j) => {
        if (j.metadata.deletionTimestamp || j.metadata.finalizers?.includes(FINALIZER)) return undefined;
        j.metadata.finalizers = [...(j.metadata.finalizers ?? []), FINALIZER];
        return j;
      });
      if (!current) return;
    }

    const nodes = jobNodes(current.spec);
    const uid = current.metadata.uid;
    let waiting = false;
    // Workers of nodes that left the spec, or of an older job that had the same name.
    for (const w of this.deps.workers.get(key)) {
      if (nodes.includes(w.node) && w.jobUid === uid) continue;
      if (this.stopPending(key, w.node, undefined)) waiting = true;
      else {
        await this.deps.runtime.remove(key, w.node);
        this.deps.agents.forgetStops(key, w.node);
        if (!nodes.includes(w.node)) this.rollout.forget(key, w.node);
      }
    }
    let requeueAfterMs = waiting ? 250 : undefined;
    let templates: TemplateReport | undefined;
    let failure: unknown;
    // A finished job stays finished: restarting its workers would re-run a completed history job.
    if (!isTerminal(current.status?.phase)) {
      const desired = new Map<string, string | undefined>();
      const live = await this.rollout.observe(key);
      for (const node of nodes) {
        const token = this.deps.mintToken({ jobKey: key, uid, node });
        // One node's failure must not keep the others from being created or rolled.
        try {
          const r = await this.rollout.sync(key, { job: current, node, token, serverUrl: this.deps.serverUrl() }, live);
          desired.set(node, r.hash);
          if (r.requeueAfterMs !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, r.requeueAfterMs);
        } catch (err) {
          failure ??= err;
        }
      }
      templates = this.rollout.report(key, current, nodes, desired, await this.rollout.observe(key));
    }

    const observed = this.deps.workers.get(key).filter((w) => w.jobUid === uid);
    await updateStatusWithRetry(this.deps.backend, current, (status, latest) => this.computeStatus(status, latest, observed, templates));
    // After the status write (it says why), so the work queue retries with backoff.
    if (failure) throw failure;
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  }

  /** Deletion: let agents stop on their own, remove every worker, then release the finalizer. */
  private async finalize(key: string, job: MultiEdgeInference): Promise<ReconcileResult | void> {
    if (!job.metadata.finalizers?.includes(FINALIZER)) return;
    if (this.stopPending(key, undefined, Date.parse(job.metadata.deletionTimestamp!))) return { requeueAfterMs: 250 };
    await this.deps.runtime.remove(key);
    this.deps.agents.forgetStops(key);
    this.rollout.forget(key);
    // Ask the runtime itself rather than the cache: releasing the finalizer is final.
    if ((await this.deps.runtime.list(key)).length > 0) return { requeueAfterMs: 500 };
    await updateWithRetry(this.deps.backend, job, (j) => {
      if (!j.metadata.finalizers?.includes(FINALIZER)) return undefined;
      j.metadata.finalizers = j.metadata.finalizers.filter((f) => f !== FINALIZER);
      return j;
    });
    this.deps.log.info(`job ${key}: workers removed, finalizer released`);
  }

  /** Workers whose job is gone (deleted without our finalizer, or while the server was down). */
  private async removeOrphans(key: string): Promise<void> {
    if ((await this.deps.runtime.list(key)).length === 0) return;
    const { namespace, name } = parseJobKey(key);
    // The cache may be a moment behind a create; removing workers must not depend on that.
    if (await this.deps.backend.get(namespace, name)) return;
    this.deps.log.info(`job ${key} is gone: removing its workers`);
    await this.deps.runtime.remove(key);
    this.rollout.forget(key);
  }

  /**
   * True while an agent told to stop (of `node`, or of any node) should get the chance to finish by itself:
   * it is connected and task:stop is not sent yet, or it was sent less than STOP_GRACE_MS ago and the agent
   * is still connected or its process still running. `since` (the deletion time) bounds the whole wait.
   */
  private stopPending(key: string, node: string | undefined, since: number | undefined): boolean {
    const now = this.now();
    if (since !== undefined && now - since >= STOP_GRACE_MS) return false;
    const workers = this.deps.workers.get(key);
    const nodes = new Set([...this.deps.agents.forJob(key).map((l) => l.node), ...workers.map((w) => w.node)]);
    return [...nodes]
      .filter((n) => node === undefined || n === node)
      .some((n) => {
        const connected = this.deps.agents.forNode(key, n) !== undefined;
        const sentAt = this.deps.agents.stopSentAt(key, n);
        if (sentAt === undefined) return connected;
        const running = workers.some((w) => w.node === n && w.phase === 'Running');
        return (connected || running) && now - sentAt < STOP_GRACE_MS;
      });
  }

  /** `templates`: where the workers stand against the current template (undefined: not known, left as is). */
  computeStatus(status: MultiEdgeInferenceStatus, job: MultiEdgeInference, observed: ObservedWorker[], templates?: TemplateReport): MultiEdgeInferenceStatus {
    const nowIso = new Date(this.now()).toISOString();
    const nodes = jobNodes(job.spec);
    const byNode = new Map(observed.map((w) => [w.node, w]));
    const count = (phase: string) => nodes.filter((n) => byNode.get(n)?.phase === phase).length;
    const running = count('Running');
    const succeeded = count('Succeeded');
    const failedWorker = nodes.map((n) => byNode.get(n)).find((w) => w?.phase === 'Failed');

    // Fields owned here; lastHeartbeat (and the agent's message) belong to the upstream controller.
    status.workers = patchWorkerEntries(status.workers, nodes, (node, entry) => {
      const w = byNode.get(node);
      entry.name = w?.name;
      entry.phase = w?.phase ?? 'Pending';
      entry.restarts = w?.restarts ?? 0;
      if (w?.message !== undefined) entry.message = w.message;
      return entry;
    });

    let phase: MultiEdgeInferenceStatus['phase'];
    if (isTerminal(status.phase)) phase = status.phase;
    else if (failedWorker) phase = 'Failed';
    else if (succeeded === nodes.length) phase = 'Succeeded';
    else if (running + succeeded > 0 || status.startTime) phase = 'Running';
    else phase = 'Pending';

    status.phase = phase;
    status.observedGeneration = job.metadata.generation;
    status.cameraCount = job.spec.cameras.length;
    if (running > 0 && !status.startTime) status.startTime = nowIso;
    if (isTerminal(phase) && !status.completionTime) status.completionTime = nowIso;

    const allRunning = running === nodes.length;
    status.conditions = setCondition(
      status.conditions,
      allRunning
        ? { type: 'WorkersRunning', status: 'True', reason: 'AllWorkersRunning', message: `${running}/${nodes.length} workers running` }
        : { type: 'WorkersRunning', status: 'False', reason: failedWorker ? 'WorkerFailed' : phase === 'Succeeded' ? 'WorkersCompleted' : 'WorkersNotRunning', message: `${running}/${nodes.length} workers running` },
      nowIso,
    );
    const unacked = nodes.filter((n) => (this.deps.agents.forNode(jobKey(job), n)?.ackedGeneration ?? -1) < job.metadata.generation);
    // A worker still on its old template (terminating, or kept because the new one was refused) is not ready.
    const upToDate = templates && templateCondition(templates);
    if (upToDate) status.conditions = setCondition(status.conditions, upToDate, nowIso);
    status.conditions = setCondition(
      status.conditions,
      !allRunning
        ? { type: 'Ready', status: 'False', reason: isTerminal(phase) ? phase : 'WorkersNotRunning', message: 'Not every worker is running.' }
        : upToDate?.status === 'False'
          ? { type: 'Ready', status: 'False', reason: upToDate.reason!, message: upToDate.message! }
          : unacked.length > 0
          ? { type: 'Ready', status: 'False', reason: 'WaitingForAgents', message: `Waiting for the agents on ${unacked.join(', ')} to accept generation ${job.metadata.generation}.` }
          : { type: 'Ready', status: 'True', reason: 'TaskAccepted', message: 'Every worker is running the current spec.' },
      nowIso,
    );
    if (phase === 'Succeeded') {
      status.conditions = setCondition(status.conditions, { type: 'Completed', status: 'True', reason: 'AllWorkersSucceeded', message: 'Every worker finished.' }, nowIso);
    }
    // Keep the first, most specific failure message once the failed worker's record is gone.
    if (phase === 'Failed' && (failedWorker || !findCondition(status, 'Failed'))) {
      const message = failedWorker ? `Worker on ${failedWorker.node} failed${failedWorker.message ? `: ${failedWorker.message}` : '.'}` : 'A worker failed.';
      status.conditions = setCondition(status.conditions, { type: 'Failed', status: 'True', reason: 'WorkerFailed', message }, nowIso);
    }
    return status;
  }
}
