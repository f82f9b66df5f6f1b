// The upstream controller: what agents report (their `state` heartbeats) becomes the job's status:
// cameras[], each worker's lastHeartbeat and message, history progress, identities (counted by the live
// hub from the agents' observations), and a Degraded condition when a running worker has gone quiet or a
// camera failed.
import { HEARTBEAT_MS, jobNodes, type CameraStatus, type MultiEdgeInference, type MultiEdgeInferenceStatus } from '@mei/contracts';
import type { JobBackend, ObservedWorker } from '../backends/types.ts';
import type { AgentRegistry } from './agent-registry.ts';
import type { ReconcileResult, Reconciler } from '../controller-runtime/controller.ts';
import type { JobInformer } from '../controller-runtime/job-informer.ts';
import type { Logger } from '../log.ts';
import type { AgentReport, ReportCache } from '../controller-runtime/report-cache.ts';
import { patchWorkerEntries, setCondition, updateStatusWithRetry } from './status.ts';
import type { WorkerCache } from '../controller-runtime/worker-cache.ts';

/** A running worker silent for this long is reported as Degraded. */
export const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_MS;

export interface UpstreamControllerDeps {
  backend: JobBackend;
  jobs: JobInformer;
  workers: WorkerCache;
  agents: AgentRegistry;
  reports: ReportCache;
  now?: () => number;
  log: Logger;
}

export class UpstreamController implements Reconciler {
  private readonly now: () => number;
  constructor(private readonly deps: UpstreamControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const job = this.deps.jobs.get(key);
    if (!job) {
      this.deps.reports.delete(key);
      return;
    }
    if (job.metadata.deletionTimestamp) return;
    const nodes = jobNodes(job.spec);
    // Reports of nodes that left the spec, or from an older job with the same name, describe nothing here.
    for (const [node, r] of this.deps.reports.get(key)) {
      if (!nodes.includes(node) || r.state.uid !== job.metadata.uid) this.deps.reports.delete(key, node);
    }
    const now = this.now();
    const workers = this.deps.workers.get(key).filter((w) => w.jobUid === job.metadata.uid);
    await updateStatusWithRetry(this.deps.backend, job, (status, latest) => this.computeStatus(status, latest, workers, now));

    // Come back when the next running worker would turn stale, so Degraded appears without another event.
    const untilStale = workers
      .filter((w) => w.phase === 'Running')
      .map((w) => HEARTBEAT_STALE_MS - (now - this.lastSign(key, w)) + 10)
      .filter((ms) => ms > 0);
    return untilStale.length ? { requeueAfterMs: Math.min(...untilStale) } : undefined;
  }

  /** Last sign of life of a worker: its last report, or its start when it has not reported yet. */
  private lastSign(key: string, w: ObservedWorker): number {
    const report = this.deps.reports.get(key).get(w.node);
    return Math.max(report?.receivedAt ?? 0, w.startedAt ? Date.parse(w.startedAt) : 0);
  }

  computeStatus(status: MultiEdgeInferenceStatus, job: MultiEdgeInference, workers: ObservedWorker[], now: number): MultiEdgeInferenceStatus {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const nodes = jobNodes(job.spec);
    const reports = this.deps.reports.get(key);
    const nowIso = new Date(now).toISOString();

    status.cameras = job.spec.cameras.map((cam) => cameraStatus(cam.name, reports.get(cam.node)));
    const identities = this.deps.reports.identities(key, job.metadata.uid);
    if (identities !== undefined) status.identities = identities;
    status.workers = patchWorkerEntries(status.workers, nodes, (node, entry) => {
      const report = reports.get(node);
      if (!report) return entry;
      entry.lastHeartbeat = new Date(report.receivedAt).toISOString();
      // The agent's own words win while it is connected; otherwise the runtime's message stands.
      if (report.state.message !== undefined && this.deps.agents.forNode(key, node)) entry.message = report.state.message;
      return entry;
    });

    if (job.spec.mode === 'history') {
      const totals = status.cameras.map((c) => c.totalFrames ?? 0);
      const done = status.cameras.reduce((sum, c) => sum + Math.min(c.framesProcessed ?? 0, c.totalFrames ?? 0), 0);
      const total = totals.reduce((a, b) => a + b, 0);
      status.progress = totals.every((t) => t > 0) ? Math.min(1, done / total) : undefined;
    } else {
      delete status.progress;
    }

    const silent = workers.filter((w) => w.phase === 'Running' && now - this.lastSign(key, w) > HEARTBEAT_STALE_MS);
    const failedCameras = status.cameras.filter((c) => c.state === 'Failed');
    status.conditions = setCondition(
      status.conditions,
      silent.length
        ? {
            type: 'Degraded',
            status: 'True',
            reason: 'HeartbeatMissed',
            message: silent.map((w) => `No heartbeat from the agent on ${w.node} since ${new Date(this.lastSign(key, w)).toISOString()}.`).join(' '),
          }
        : failedCameras.length
          ? { type: 'Degraded', status: 'True', reason: 'CameraFailed', message: failedCameras.map((c) => `Camera ${c.name} failed${c.message ? `: ${c.message}` : '.'}`).join(' ') }
          : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'Every running worker reports on time.' },
      nowIso,
    );
    return status;
  }
}

function cameraStatus(name: string, report: AgentReport | undefined): CameraStatus {
  const c = report?.state.cameras.find((x) => x.name === name);
  if (!c) return { name, state: 'Pending' };
  return {
    name,
    state: c.state,
    fps: c.fps,
    activeTracks: c.activeTracks,
    framesProcessed: c.framesProcessed,
    totalFrames: c.totalFrames,
    message: c.message,
    lastFrameTime: c.lastFrameTime,
    upstreamBytesPerSecond: c.upstreamBytesPerSecond,
    spooledBytes: c.spooledBytes,
    oldestUnsentSeconds: c.oldestUnsentSeconds,
    droppedBatches: c.droppedBatches,
    floorFps: c.floorFps,
    belowFloor: c.belowFloor,
  };
}
