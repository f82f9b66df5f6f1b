// Gauges read from the jobs' status at scrape time (the informer cache, no extra state): what an operator
// alerts on per camera (up, fps against the spec's fps) and per job phase. Labels are the job's namespace,
// name and camera names (job_namespace, job_name, camera), bounded by the specs; never track ids.
import client from 'prom-client';
import type { MultiEdgeInference } from '@mei/contracts';
import { registry } from './metrics.ts';

export interface JobSource {
  list(): MultiEdgeInference[];
}

let source: JobSource | undefined;

/** The control plane's job cache feeds these gauges (the last one set wins: one control plane per process). */
export function setJobSource(s: JobSource | undefined): void {
  source = s;
}

// Not `namespace`/`job`: Prometheus's own target labels, which would rename ours to exported_*.
const cameraLabels = ['job_namespace', 'job_name', 'camera'] as const;
type CameraLabels = Record<(typeof cameraLabels)[number], string>;

function eachCamera(fn: (labels: CameraLabels, job: MultiEdgeInference, status: NonNullable<NonNullable<MultiEdgeInference['status']>['cameras']>[number]) => void): void {
  for (const job of source?.list() ?? []) {
    for (const cam of job.status?.cameras ?? []) fn({ job_namespace: job.metadata.namespace, job_name: job.metadata.name, camera: cam.name }, job, cam);
  }
}

new client.Gauge({
  name: 'mei_jobs',
  help: 'MultiEdgeInference jobs by status phase',
  labelNames: ['phase'] as const,
  registers: [registry],
  collect() {
    this.reset();
    const counts = new Map<string, number>();
    for (const job of source?.list() ?? []) counts.set(job.status?.phase ?? 'Pending', (counts.get(job.status?.phase ?? 'Pending') ?? 0) + 1);
    for (const [phase, n] of counts) this.set({ phase }, n);
  },
});
new client.Gauge({
  name: 'mei_camera_up',
  help: 'Whether the camera is delivering frames (state Streaming, or Completed for history cameras): 1 or 0',
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => this.set(l, cam.state === 'Streaming' || cam.state === 'Completed' ? 1 : 0));
  },
});
new client.Gauge({
  name: 'mei_camera_fps',
  help: 'Frames per second the camera is processed at, as its agent last reported',
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.fps !== undefined && this.set(l, cam.fps));
  },
});
new client.Gauge({
  name: 'mei_camera_upstream_bytes_per_second',
  help: 'Payload bytes per second the agent sends for the camera (last 10 s), as its agent last reported',
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.upstreamBytesPerSecond !== undefined && this.set(l, cam.upstreamBytesPerSecond));
  },
});
new client.Gauge({
  name: 'mei_camera_target_fps',
  help: 'Frames per second the job spec asks for (spec.cameras[].fps)',
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, job) => {
      const fps = job.spec.cameras.find((c) => c.name === l.camera)?.fps;
      if (fps !== undefined) this.set(l, fps);
    });
  },
});
new client.Gauge({
  name: 'mei_camera_active_tracks',
  help: 'People tracked in the camera now',
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.activeTracks !== undefined && this.set(l, cam.activeTracks));
  },
});
new client.Gauge({
  name: 'mei_camera_spooled_bytes',
  help: "Bytes of the camera's observation batches waiting in its agent's on-disk spool (not yet committed)",
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.spooledBytes !== undefined && this.set(l, cam.spooledBytes));
  },
});
new client.Gauge({
  name: 'mei_camera_oldest_unsent_seconds',
  help: "Age of the camera's oldest observation batch not yet committed (0: nothing waiting)",
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.oldestUnsentSeconds !== undefined && this.set(l, cam.oldestUnsentSeconds));
  },
});
new client.Counter({
  name: 'mei_camera_dropped_batches_total',
  help: "The camera's observation batches lost on the edge (spool full, or refused by the server), as its agent reports",
  labelNames: cameraLabels,
  registers: [registry],
  collect() {
    this.reset();
    eachCamera((l, _job, cam) => cam.droppedBatches !== undefined && this.inc(l, cam.droppedBatches));
  },
});
