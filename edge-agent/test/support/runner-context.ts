// A CameraRunnerContext that discards what a runner hands to the agent, for tests that override the parts
// they observe.
import type { TaskAssignment } from '@mei/contracts';
import type { CameraRunnerContext } from '../../src/agent/camera-runner.ts';

export function quietContext(task: TaskAssignment, camera: TaskAssignment['cameras'][number], over: Partial<CameraRunnerContext> = {}): CameraRunnerContext {
  return {
    task,
    camera,
    onChange: () => {},
    emitObservations: () => {},
    observationBacklog: () => 0,
    privacy: () => task.privacy,
    emitPreview: () => {},
    thumbnailSlots: () => 0,
    emitThumbnail: () => {},
    log: () => {},
    ...over,
  };
}
