// What pixels a job lets leave the edge (spec.privacy.preview), decided by the job's current spec, never by the
// agent: previews only under 'live', or one still frame a browser asked for under 'snapshot'; person crops
// under 'thumbnails' and 'live'. Each check throws LiveError naming the field at fault.
import type { MultiEdgeInference } from '@mei/contracts';
import { LiveError } from './live-error.ts';

type Preview = 'none' | 'snapshot' | 'thumbnails' | 'live';

/** A snapshot preview is accepted this long after a browser asked for it. */
const SNAPSHOT_WINDOW_MS = 15_000;

export function previewMode(job: MultiEdgeInference): Preview {
  return (job.spec.privacy?.preview ?? 'none') as Preview;
}

/**
 * A preview JPEG of `camera`: allowed under 'live', and under 'snapshot' once per browser request made within
 * the window (the request is used up). `asked` holds the request times per camera.
 */
export function admitPreview(job: MultiEdgeInference, camera: string, asked: Map<string, number>, now: number): void {
  const mode = previewMode(job);
  const key = `${job.metadata.namespace}/${job.metadata.name}`;
  if (mode === 'snapshot') {
    const at = asked.get(camera);
    if (at === undefined || now - at > SNAPSHOT_WINDOW_MS) throw new LiveError('jpeg', `privacy.preview of ${key} is "snapshot": a still frame is accepted only when a browser asked for one`);
    asked.delete(camera);
  } else if (mode !== 'live') {
    throw new LiveError('jpeg', `privacy.preview of ${key} is "${mode}": no pixels may leave the edge`);
  }
}

/** Whether the job lets person crops (track thumbnails) leave the edge. */
export function thumbnailsAllowed(job: MultiEdgeInference): boolean {
  const mode = previewMode(job);
  return mode === 'thumbnails' || mode === 'live';
}

/** The refusal of a person crop the job does not allow. */
export function thumbnailRefusal(job: MultiEdgeInference): LiveError {
  return new LiveError('jpeg', `privacy.preview of ${job.metadata.namespace}/${job.metadata.name} is "${previewMode(job)}": no person crops may leave the edge`);
}

/** A browser's snapshot request: only when the job lets a still frame leave ('snapshot' or 'live'). */
export function admitSnapshotRequest(job: MultiEdgeInference): void {
  const mode = previewMode(job);
  if (mode !== 'snapshot' && mode !== 'live') throw new LiveError('camera', `privacy.preview of ${job.metadata.namespace}/${job.metadata.name} is "${mode}": no pixels may leave the edge`);
}
