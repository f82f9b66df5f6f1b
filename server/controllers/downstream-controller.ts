// The downstream controller: every connected agent runs its node's part of the current spec (task), and
// agents whose job is gone, deleting, failed, or no longer lists their node are told to stop (task:stop).
import { jobNodes, type MultiEdgeInference } from '@mei/contracts';
import type { AgentLink, AgentRegistry } from './agent-registry.ts';
import type { ReconcileResult, Reconciler } from '../controller-runtime/controller.ts';
import type { JobInformer } from '../controller-runtime/job-informer.ts';
import type { Logger } from '../log.ts';
import { buildTaskAssignment } from './task.ts';
import type { MediaPolicy } from '@mei/contracts/media-policy';

/** An unacknowledged task is sent again after this long (the agent may have missed it while reconnecting). */
export const TASK_RESEND_MS = 5_000;

export interface DownstreamControllerDeps {
  jobs: JobInformer;
  agents: AgentRegistry;
  now?: () => number;
  /** What the job's sources and models may open (the admin's media policy; defaults when absent). */
  mediaPolicy?: MediaPolicy;
  log: Logger;
}

/** Why `link` must stop, or undefined when it should run `job`. */
function stopReason(job: MultiEdgeInference | undefined, link: AgentLink): string | undefined {
  if (!job || job.metadata.uid !== link.uid) return 'job deleted';
  if (job.metadata.deletionTimestamp) return 'job is being deleted';
  if (!jobNodes(job.spec).includes(link.node)) return `node ${link.node} was removed from the job`;
  if (job.status?.phase === 'Failed') return 'job failed';
  return undefined;
}

export class DownstreamController implements Reconciler {
  private readonly now: () => number;
  constructor(private readonly deps: DownstreamControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const job = this.deps.jobs.get(key);
    const now = this.now();
    let requeueAfterMs: number | undefined;
    for (const link of this.deps.agents.forJob(key)) {
      const reason = stopReason(job, link);
      if (reason) {
        if (link.stopSentAt === undefined) {
          this.deps.log.info(`job ${key}: stopping agent on ${link.node} (${reason})`);
          link.sendStop({ jobKey: key, uid: link.uid, reason });
          this.deps.agents.markStopSent(link, now);
        }
        continue;
      }
      const generation = job!.metadata.generation;
      if (link.ackedGeneration >= generation) continue;
      const sent = link.sentTask;
      if (sent?.generation === generation && now - sent.at < TASK_RESEND_MS) {
        requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, TASK_RESEND_MS - (now - sent.at));
        continue;
      }
      this.deps.log.debug(`job ${key}: sending generation ${generation} to the agent on ${link.node}`);
      link.sendTask(buildTaskAssignment(job!, link.node, this.deps.mediaPolicy));
      link.sentTask = { generation, at: now };
      requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, TASK_RESEND_MS);
    }
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }
}
