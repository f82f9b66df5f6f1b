// What the history writer needs of a job's spec (ReID model, retention, privacy), remembered so that batches
// still queued when the job is deleted are stored with what was known.
import type { MultiEdgeInference, PrivacySpec } from '@mei/contracts';
import { reidModelKey } from './model-key.ts';

/** CRD defaults of spec.retention. */
export const RETENTION_DEFAULTS = { tracksDays: 30, thumbnailsDays: 7 } as const;

export interface JobInfo {
  model: string;
  tracksDays: number;
  thumbnailsDays: number;
  preview: NonNullable<PrivacySpec['preview']>;
}

/** Whether privacy.preview lets person crops leave the edge. */
export const cropsAllowed = (info: JobInfo) => info.preview === 'thumbnails' || info.preview === 'live';

export class JobInfos {
  private readonly known = new Map<string, JobInfo>();

  constructor(private readonly jobs: { get(key: string): MultiEdgeInference | undefined }) {}

  get(jobKey: string): JobInfo {
    const job = this.jobs.get(jobKey);
    if (!job) {
      // Deleted while its batches were queued: keep what was known, else the CRD defaults.
      return this.known.get(jobKey) ?? { model: reidModelKey(undefined), ...RETENTION_DEFAULTS, preview: 'none' };
    }
    const info: JobInfo = {
      model: reidModelKey(job.spec.models?.reid),
      tracksDays: job.spec.retention?.tracksDays ?? RETENTION_DEFAULTS.tracksDays,
      thumbnailsDays: job.spec.retention?.thumbnailsDays ?? RETENTION_DEFAULTS.thumbnailsDays,
      preview: job.spec.privacy?.preview ?? 'none',
    };
    this.known.set(jobKey, info);
    return info;
  }
}
