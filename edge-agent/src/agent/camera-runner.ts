// The seam between the connected agent and the vision pipeline: the agent starts, stops and reads one
// CameraRunner per camera of its task and knows nothing else about video or models.
import type { CameraReport, CameraSpec, ObservationBatch, TaskAssignment } from '@mei/contracts';

export interface CameraRunner {
  readonly camera: string;
  /** Opens the source and processes frames in the background; resolves once started (not when done). */
  start(): Promise<void>;
  /** Stops processing and releases the source and models. Idempotent. */
  stop(): Promise<void>;
  /** The camera's current state for the `state` heartbeat. */
  report(): CameraReport;
}

export interface CameraRunnerContext {
  task: TaskAssignment;
  camera: CameraSpec;
  /** Call when report() changed in a way the server should hear about now (state, error). */
  onChange(): void;
  /** Hands per-frame observations to the transport (jobKey and seq are filled in by the agent). */
  emitObservations(batch: Omit<ObservationBatch, 'jobKey' | 'seq'>): void;
  log(msg: string): void;
}

export type CameraRunnerFactory = (ctx: CameraRunnerContext) => CameraRunner;

/** Spec path of a camera in errors. The agent only sees its node's cameras, so it names them by key. */
export const cameraField = (name: string) => `spec.cameras[name=${name}]`;
