// What pixels a job lets leave the edge (spec.privacy.preview), decided by the job's current spec, never by the
// agent: previews only under 'live', or one still frame a browser asked for under 'snapshot'; person crops
// under 'thumbnails' and 'live'. Each check throws LiveError naming the field at fault.
import { previewAllows, previewOf, type MultiEdgeInference } from '@mei/contracts';
import { LiveError } from './live-error.ts';

/** A snapshot preview is accepted this long after a browser asked for it. */
const SNAPSHOT_WINDOW_MS = 15_000;

/**
 * A preview JPEG of `camera`: allowed under 'live', and under 'snapshot' once per browser request made within
 * the window (the request is used up). `asked` holds the request times per camera.
 */
export function admitPreview(job: MultiEdgeInference, camera: string, asked: Map<string, number>, now: number): void {
  const mode = previewOf(job.spec);
  const key = `${job.metadata.namespace}/${job.metadata.name}`;
  if (mode === 'snapshot') {
    const at = asked.get(camera);
    if (at === undefined || now - at > SNAPSHOT_WINDOW_MS) throw new LiveError('jpeg', `privacy.preview of ${key} is "snapshot": a still frame is accepted only when a browser asked for one`);
    asked.delete(camera);
  } else if (!previewAllows(mode, 'stream')) {
    throw new LiveError('jpeg', `privacy.preview of ${key} is "${mode}": no pixels may leave the edge`);
  }
}

/** Whether the job lets person crops (track thumbnails) leave the edge. */
export function thumbnailsAllowed(job: MultiEdgeInference): boolean {
  return previewAllows(job.spec, 'crops');
}

/** The refusal of a person crop the job does not allow. */
export function thumbnailRefusal(job: MultiEdgeInference): LiveError {
  return new LiveError('jpeg', `privacy.preview of ${job.metadata.namespace}/${job.metadata.name} is "${previewOf(job.spec)}": no person crops may leave the edge`);
}

/** A browser's snapshot request: only when the job lets a still frame leave ('snapshot' or 'live'). */
export function admitSnapshotRequest(job: MultiEdgeInference): void {
  const mode = previewOf(job.spec);
  if (!previewAllows(mode, 'snapshot')) throw new LiveError('camera', `privacy.preview of ${job.metadata.namespace}/${job.metadata.name} is "${mode}": no pixels may leave the edge`);
}
