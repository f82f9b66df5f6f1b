// The last minutes of every camera (fps, people in view, live latency), sampled from the jobs' status every
// step into a ring per camera, so the job page can draw them at once on load. Memory is bounded: window/step
// samples per camera of the jobs that exist; a deleted job's series goes with it.
import type { CameraSample, JobSeries, MultiEdgeInference } from '@mei/contracts';

export interface CameraSeriesOptions {
  jobs: { list(): MultiEdgeInference[] };
  stepMs?: number;
  windowMs?: number;
  now?: () => number;
}

const key = (jobKey: string, camera: string) => `${jobKey}\u0000${camera}`;

export class CameraSeries {
  readonly stepMs: number;
  readonly windowMs: number;
  private readonly rings = new Map<string, CameraSample[]>();
  /** Live latencies observed since the last sample, per camera. */
  private readonly latencies = new Map<string, number[]>();
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: CameraSeriesOptions) {
    this.stepMs = options.stepMs ?? 5_000;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.stepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A live frame of `camera` reached the server `ms` after its agent emitted it. */
  observeLatency(jobKey: string, camera: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const k = key(jobKey, camera);
    const l = this.latencies.get(k) ?? [];
    if (l.length < 10_000) l.push(ms);
    this.latencies.set(k, l);
  }

  /** Takes one sample of every camera of every job (the timer calls it each step). */
  sample(): void {
    const t = this.now();
    const alive = new Set<string>();
    for (const job of this.options.jobs.list()) {
      const jobKey = `${job.metadata.namespace}/${job.metadata.name}`;
      const status = new Map((job.status?.cameras ?? []).map((c) => [c.name, c]));
      for (const cam of job.spec.cameras) {
        const k = key(jobKey, cam.name);
        alive.add(k);
        const st = status.get(cam.name);
        const lat = this.latencies.get(k);
        this.latencies.delete(k);
        const s: CameraSample = { t };
        if (st?.fps !== undefined) s.fps = st.fps;
        if (st?.activeTracks !== undefined) s.people = st.activeTracks;
        if (lat?.length) s.latencyMs = median(lat);
        const ring = this.rings.get(k) ?? [];
        ring.push(s);
        while (ring.length && ring[0].t < t - this.windowMs) ring.shift();
        this.rings.set(k, ring);
      }
    }
    for (const k of this.rings.keys()) if (!alive.has(k)) this.rings.delete(k);
    for (const k of this.latencies.keys()) if (!alive.has(k)) this.latencies.delete(k);
  }

  /** The series of a job's cameras (spec order); empty samples for a camera not sampled yet. */
  get(job: MultiEdgeInference): JobSeries {
    const jobKey = `${job.metadata.namespace}/${job.metadata.name}`;
    return {
      stepMs: this.stepMs,
      windowMs: this.windowMs,
      cameras: job.spec.cameras.map((c) => ({ name: c.name, samples: [...(this.rings.get(key(jobKey, c.name)) ?? [])] })),
    };
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return Math.round((s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) * 10) / 10;
}
