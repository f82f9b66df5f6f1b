// Level-triggered rollout of edge workers: each reconcile compares the template hash a worker was created
// from (observed) with the hash of what the runtime would create for the job now (desired), and replaces a
// worker whose hash differs: delete the old, then create the new once it is gone (a Pod's name is reused, so
// the two never overlap; a local process is stopped before the next starts). At most one replacement per
// worker per reconcile; a finished (Succeeded/Failed) worker is never rolled, so a completed history
// partition is not re-run.
//
// A template the runtime cannot create is found by a dry run before anything is deleted: the old worker
// keeps running, the job's WorkersUpToDate condition says why, and the dry run is repeated only after
// TEMPLATE_RECHECK_MS (or at once when the spec changes again), so a broken spec does not thrash.
import type { MultiEdgeInference } from '@mei/contracts';
import type { ObservedWorker, WorkerLaunch, WorkerRuntime } from '../backends/types.ts';
import type { ConditionInput } from './status.ts';
import type { Logger } from '../log.ts';
import { supportsTemplates } from '../backends/worker-template.ts';

/** How long a template refused by a dry run is trusted to stay refused before it is checked again. */
export const TEMPLATE_RECHECK_MS = 30_000;
/**
 * Requeue while an old worker terminates: only a backstop, as its deletion events requeue the job sooner. Each
 * such reconcile calls remove() again, which force-deletes a Pod stuck terminating on an offline node.
 */
export const ROLL_WAIT_MS = 5_000;

export interface NodeSync {
  /** Desired template hash; undefined when the runtime does not hash templates (never rolls). */
  hash?: string;
  requeueAfterMs?: number;
}

export interface TemplateReport {
  /** Nodes whose worker is being replaced because its template changed. */
  rolling: string[];
  /** Nodes whose new template was refused (dry run); their old worker keeps running. */
  rejected: Array<{ node: string; message: string }>;
  /** Nodes whose worker could not be created. */
  failed: Array<{ node: string; message: string }>;
}

const isFinished = (w: ObservedWorker) => w.phase === 'Succeeded' || w.phase === 'Failed';
/** The runtime is waiting for an old worker to go (Kubernetes: WorkerBusyError): not a failure to report. */
const isBusy = (err: unknown) => (err as Error)?.name === 'WorkerBusyError';

export class WorkerRollout {
  /** Refused templates per worker (`<jobKey>@<node>`): hash, the refusal, when checked. */
  private readonly rejected = new Map<string, { hash: string; message: string; at: number }>();
  /** The last create error per worker, until a create succeeds. */
  private readonly createFailures = new Map<string, string>();
  /** The replacement last announced per worker (`<old hash>><new hash>`), so a cache a moment behind does not announce it twice. */
  private readonly announced = new Map<string, string>();

  constructor(
    private readonly runtime: WorkerRuntime,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * The job's workers as the runtime sees them now. Read from the runtime rather than the WorkerCache: right
   * after a local process was replaced, the cache may still list the old one, which must not be rolled again.
   */
  async observe(key: string): Promise<ObservedWorker[]> {
    return this.runtime.list(key);
  }

  /** Ensures the worker of `launch.node` exists and runs the desired template; `observed` is from observe(). */
  async sync(key: string, launch: WorkerLaunch, observed: ObservedWorker[]): Promise<NodeSync> {
    const rt = this.runtime;
    if (!supportsTemplates(rt)) {
      await this.create(key, launch);
      return {};
    }
    const { job, node } = launch;
    const id = `${key}@${node}`;
    const hash = rt.templateHash(launch);
    const w = observed.find((x) => x.node === node && x.jobUid === job.metadata.uid);
    if (!w || w.templateHash === hash || isFinished(w)) {
      this.rejected.delete(id);
      await this.create(key, launch);
      return { hash };
    }

    if (!w.terminating) {
      const refused = await this.refusal(key, launch, hash);
      if (refused) return { hash, requeueAfterMs: refused };
      const step = `${w.templateHash ?? 'none'}>${hash}`;
      if (this.announced.get(id) !== step) {
        this.announced.set(id, step);
        this.log.info(`job ${key}: rolling worker ${w.name} on ${node}: template changed (${w.templateHash ?? 'none'} -> ${hash})`);
        rt.recordEvent?.(job, 'Normal', 'WorkerTemplateChanged', `Replacing worker ${w.name} on node ${node}: its template changed`);
      }
    }
    // Idempotent: a worker already terminating is left to finish (a Pod stuck past its grace is forced).
    await rt.remove(key, node);
    // A local process is gone once remove() resolves; a Pod terminates for a while and its deletion requeues.
    if ((await rt.list(key)).some((x) => x.node === node && x.jobUid === job.metadata.uid)) return { hash, requeueAfterMs: ROLL_WAIT_MS };
    await this.create(key, launch);
    return { hash };
  }

  /** Requeue delay when the new template is refused (the old worker stays), else undefined. */
  private async refusal(key: string, launch: WorkerLaunch, hash: string): Promise<number | undefined> {
    const rt = this.runtime;
    if (!supportsTemplates(rt) || !rt.checkTemplate) return undefined;
    const id = `${key}@${launch.node}`;
    const prev = this.rejected.get(id);
    const now = this.now();
    if (prev?.hash === hash && now - prev.at < TEMPLATE_RECHECK_MS) return TEMPLATE_RECHECK_MS - (now - prev.at);
    const message = await rt.checkTemplate(launch);
    if (!message) {
      this.rejected.delete(id);
      return undefined;
    }
    if (prev?.hash !== hash || prev.message !== message) {
      this.log.warn(`job ${key}: new worker template for ${launch.node} refused, keeping the running worker: ${message}`);
      rt.recordEvent?.(launch.job, 'Warning', 'WorkerTemplateRejected', `New template of the worker on node ${launch.node} refused; the running worker is kept: ${message}`);
    }
    this.rejected.set(id, { hash, message, at: now });
    return TEMPLATE_RECHECK_MS;
  }

  private async create(key: string, launch: WorkerLaunch): Promise<void> {
    const id = `${key}@${launch.node}`;
    try {
      await this.runtime.ensure(launch);
      this.createFailures.delete(id);
    } catch (err) {
      if (!isBusy(err)) this.createFailures.set(id, (err as Error).message);
      throw err;
    }
  }

  /** Where each node of `nodes` stands, from this reconcile's desired hashes and the observed workers. */
  report(key: string, job: MultiEdgeInference, nodes: string[], desired: Map<string, string | undefined>, observed: ObservedWorker[]): TemplateReport | undefined {
    if (!supportsTemplates(this.runtime)) return undefined;
    const out: TemplateReport = { rolling: [], rejected: [], failed: [] };
    for (const node of nodes) {
      const id = `${key}@${node}`;
      const hash = desired.get(node);
      const failure = this.createFailures.get(id);
      const rejected = this.rejected.get(id);
      const w = observed.find((x) => x.node === node && x.jobUid === job.metadata.uid);
      if (failure !== undefined) out.failed.push({ node, message: failure });
      else if (hash === undefined) continue; // sync() failed before it knew (e.g. the apiserver did not answer)
      else if (rejected?.hash === hash) out.rejected.push({ node, message: rejected.message });
      else if (w && w.templateHash !== hash && !isFinished(w)) out.rolling.push(node);
    }
    return out;
  }

  /** Drops what is remembered about a job's workers (the job is gone), or about one node (it left the spec). */
  forget(key: string, node?: string): void {
    for (const m of [this.rejected, this.createFailures, this.announced]) {
      for (const id of m.keys()) if (node === undefined ? id.startsWith(`${key}@`) : id === `${key}@${node}`) m.delete(id);
    }
  }
}

/** The WorkersUpToDate condition: do the workers run the template the current spec asks for? */
export function templateCondition(r: TemplateReport): ConditionInput {
  if (r.failed.length) {
    return { type: 'WorkersUpToDate', status: 'False', reason: 'WorkerCreateFailed', message: r.failed.map((f) => `Creating the worker on ${f.node} failed: ${f.message}`).join(' ') };
  }
  if (r.rejected.length) {
    return {
      type: 'WorkersUpToDate',
      status: 'False',
      reason: 'TemplateRejected',
      message: r.rejected.map((f) => `The new template of the worker on ${f.node} was refused, so the running worker is kept: ${f.message}`).join(' '),
    };
  }
  if (r.rolling.length) {
    const which = r.rolling.length === 1 ? `the worker on ${r.rolling[0]}: its template` : `the workers on ${r.rolling.join(', ')}: their template`;
    return { type: 'WorkersUpToDate', status: 'False', reason: 'RollingWorkers', message: `Replacing ${which} changed.` };
  }
  return { type: 'WorkersUpToDate', status: 'True', reason: 'AllWorkersUpToDate', message: 'Every worker runs the current template.' };
}
