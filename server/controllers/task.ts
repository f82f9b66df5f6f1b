// What one node's agent runs for a job: its cameras and the job-wide settings (the downstream message).
import { applyDefaults, jobKey, withDefaults, type MultiEdgeInference, type TaskAssignment } from '@mei/contracts';
import { DEFAULT_MEDIA_POLICY, mediaAccessFor, type MediaPolicy } from '@mei/contracts/media-policy';

export function buildTaskAssignment(job: MultiEdgeInference, node: string, policy: MediaPolicy = DEFAULT_MEDIA_POLICY): TaskAssignment {
  const { metadata } = job;
  const spec = applyDefaults(job.spec);
  const worker = spec.workers?.find((w) => w.node === node) ?? withDefaults('workers[]', { node });
  return {
    jobKey: jobKey(job),
    uid: metadata.uid,
    generation: metadata.generation,
    node,
    mode: spec.mode,
    cameras: spec.cameras.filter((c) => c.node === node),
    models: spec.models,
    tracking: spec.tracking,
    crossCamera: spec.crossCamera,
    privacy: spec.privacy,
    threads: worker.threads,
    ...(worker.spoolBytes !== undefined ? { spoolBytes: worker.spoolBytes } : {}),
    ...(worker.inferenceSlots ? { inferenceSlots: worker.inferenceSlots } : {}),
    floorFps: worker.floorFps,
    ...(worker.shareReid ? { shareReid: true } : {}),
    media: mediaAccessFor(policy, metadata.namespace),
  };
}
