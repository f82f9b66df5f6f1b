// Cross-camera identities of MEI jobs (cloud role): one IdentityService per job, fed with the agents'
// observation batches exactly once per (job, camera, seq).
import type { MultiEdgeInferenceSpec, ObservationBatch } from '@mei/contracts';
import { IdentityService } from './identity-service.ts';
import { sharedViews } from './colocation.ts';
import { IngestDedup } from './ingest-dedup.ts';
import { IdentityInputError, type IdentityEvent, type IdentityServiceOptions } from './types.ts';

export { IdentityService } from './identity-service.ts';
export { IngestDedup, type DedupDecision } from './ingest-dedup.ts';
export { ActiveIndex } from './active-index.ts';
export { CameraTopology } from './topology.ts';
export { Colocation, sharedViews, type CameraView, type ColocationOptions } from './colocation.ts';
export * from './types.ts';

type Tuning = Omit<IdentityServiceOptions, 'cameras' | 'crossCamera' | 'views'>;

/** The identity service of a job spec (its cameras, overlaps, shared sources and crossCamera settings). */
export function createIdentityService(spec: Pick<MultiEdgeInferenceSpec, 'cameras' | 'crossCamera'>, tuning: Tuning = {}): IdentityService {
  return new IdentityService({ ...tuning, cameras: spec.cameras, crossCamera: spec.crossCamera, views: sharedViews(spec.cameras) });
}

export interface IngestResult {
  /** False when the batch was seen before (resent after a reconnect) and was not applied again. */
  applied: boolean;
  events: IdentityEvent[];
}

/** The identity services of all running jobs, keyed by job key (<namespace>/<name>). */
export class JobIdentities {
  private readonly jobs = new Map<string, { uid: string; service: IdentityService }>();
  private readonly dedup = new IngestDedup();

  constructor(private readonly tuning: Tuning = {}) {}

  /** Starts (or keeps) the job's service; a new uid (job recreated) starts from scratch. */
  ensure(jobKey: string, uid: string, spec: Pick<MultiEdgeInferenceSpec, 'cameras' | 'crossCamera'>): IdentityService {
    const cur = this.jobs.get(jobKey);
    if (cur && cur.uid === uid) return cur.service;
    this.dedup.forgetJob(jobKey);
    const service = createIdentityService(spec, this.tuning);
    this.jobs.set(jobKey, { uid, service });
    return service;
  }

  /** Every job's identity service (metrics read their stats at scrape time). */
  *services(): IterableIterator<[string, IdentityService]> {
    for (const [jobKey, j] of this.jobs) yield [jobKey, j.service];
  }

  get(jobKey: string): IdentityService | undefined {
    return this.jobs.get(jobKey)?.service;
  }

  /** Applies a batch once; throws IdentityInputError for a job without a service or bad content. */
  ingest(batch: ObservationBatch): IngestResult {
    const service = this.jobs.get(batch.jobKey)?.service;
    if (!service) throw new IdentityInputError('jobKey', `no identity service for job "${batch.jobKey}" (job not running here)`);
    // Checked before dedup so a batch of an unknown camera does not use up its seq.
    if (!service.hasCamera(batch.camera)) throw new IdentityInputError('camera', `unknown camera "${batch.camera}" in job ${batch.jobKey}`);
    if (!this.dedup.check(batch.jobKey, batch.camera, batch.seq).accept) return { applied: false, events: [] };
    return { applied: true, events: service.ingest(batch) };
  }

  /** The camera's agent started a new session (its seqs and local track ids restart). */
  resetCamera(jobKey: string, camera: string): void {
    this.dedup.reset(jobKey, camera);
    this.jobs.get(jobKey)?.service.resetCamera(camera);
  }

  delete(jobKey: string): void {
    this.jobs.delete(jobKey);
    this.dedup.forgetJob(jobKey);
  }
}
