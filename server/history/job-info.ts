// What the history writer needs of a job's spec (ReID model, retention, privacy), remembered so that batches
// still queued when the job is deleted are stored with what was known.
import { previewAllows, withDefaults, type MultiEdgeInference, type PrivacySpec } from '@mei/contracts';
import { reidModelKey } from './model-key.ts';

export interface JobInfo {
  model: string;
  tracksDays: number;
  thumbnailsDays: number;
  preview: NonNullable<PrivacySpec['preview']>;
}

/** Whether privacy.preview lets person crops leave the edge. */
export const cropsAllowed = (info: JobInfo) => previewAllows(info.preview, 'crops');

/** What a job's spec says (its sections defaulted from the CRD). */
function infoOf(spec: Pick<MultiEdgeInference['spec'], 'models' | 'retention' | 'privacy'> | undefined): JobInfo {
  const retention = withDefaults('retention', spec?.retention);
  return { model: reidModelKey(spec?.models?.reid), tracksDays: retention.tracksDays, thumbnailsDays: retention.thumbnailsDays, preview: withDefaults('privacy', spec?.privacy).preview };
}

export class JobInfos {
  private readonly known = new Map<string, JobInfo>();

  constructor(private readonly jobs: { get(key: string): MultiEdgeInference | undefined }) {}

  get(jobKey: string): JobInfo {
    const job = this.jobs.get(jobKey);
    if (!job) {
      // Deleted while its batches were queued: keep what was known, else the CRD defaults.
      return this.known.get(jobKey) ?? infoOf(undefined);
    }
    const info = infoOf(job.spec);
    this.known.set(jobKey, info);
    return info;
  }
}
