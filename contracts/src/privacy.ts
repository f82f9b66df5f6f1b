// The privacy rule, in ONE place: which pixels privacy.preview lets leave the edge node (see the CRD's
// description of the field). The agent, the live hub, the history writer and the browser all ask this.
import { withDefaults } from './defaults.ts';
import type { PrivacySpec } from './generated/job.ts';

/** privacy.preview. */
export type Preview = NonNullable<PrivacySpec['preview']>;
/** What may leave the edge: `crops` (track thumbnails), one `snapshot` on request, a `stream` of previews. */
export type PreviewUse = 'crops' | 'snapshot' | 'stream';

const ALLOWED: Record<Preview, readonly PreviewUse[]> = {
  none: [],
  snapshot: ['snapshot'],
  thumbnails: ['crops'],
  live: ['crops', 'snapshot', 'stream'],
};

/** The job's privacy.preview, defaulted. */
export function previewOf(spec: { privacy?: PrivacySpec }): Preview {
  return withDefaults('privacy', spec.privacy).preview;
}

/** Whether a job (its spec or task: anything with `privacy`, or its preview mode) lets `what` leave the edge. */
export function previewAllows(job: { privacy?: PrivacySpec } | Preview, what: PreviewUse): boolean {
  return ALLOWED[typeof job === 'string' ? job : previewOf(job)]?.includes(what) ?? false;
}
