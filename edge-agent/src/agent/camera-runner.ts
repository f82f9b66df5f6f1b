// The seam between the connected agent and the vision pipeline: the agent starts, stops and reads one
// CameraRunner per camera of its task and knows nothing else about video or models.
import type { CameraReport, DefaultedCameraSpec, DefaultedPrivacySpec, ObservationBatch, PreviewFrame, TaskAssignment, TrackThumbnail } from '@mei/contracts';

export interface CameraRunner {
  readonly camera: string;
  /** Opens the source and processes frames in the background; resolves once started (not when done). */
  start(): Promise<void>;
  /** Stops processing and releases the source and models. Idempotent. */
  stop(): Promise<void>;
  /** The camera's current state for the `state` heartbeat. */
  report(): CameraReport;
  /** privacy.preview 'snapshot': send one preview frame soon (a browser asked for it). */
  requestSnapshot?(): void;
}

export interface CameraRunnerContext {
  task: TaskAssignment;
  camera: DefaultedCameraSpec;
  /** Call when report() changed in a way the server should hear about now (state, error). */
  onChange(): void;
  /** Hands per-frame observations to the transport (jobKey, seq and session are filled in by the agent). */
  emitObservations(batch: Omit<ObservationBatch, 'jobKey' | 'seq' | 'session'>): void;
  /** Batches handed over but not yet acknowledged by the server (live mode sends each frame when this is 0). */
  observationBacklog(): number;
  /** The task's current privacy settings (a privacy change does not restart the runner). */
  privacy(): DefaultedPrivacySpec;
  /** Sends a preview JPEG now if the previous one of this camera got through (never queued). */
  emitPreview(preview: Omit<PreviewFrame, 'jobKey'>): void;
  /** How many track thumbnails emitThumbnail takes now (0 while disconnected or while earlier ones are in flight). */
  thumbnailSlots(): number;
  /** Sends a track thumbnail now, best effort (jobKey and session are filled in by the agent; never queued or resent). */
  emitThumbnail(thumbnail: Omit<TrackThumbnail, 'jobKey' | 'session'>): void;
  log(msg: string): void;
}

export type CameraRunnerFactory = (ctx: CameraRunnerContext) => CameraRunner;

/** Spec path of a camera in errors. The agent only sees its node's cameras, so it names them by key. */
export const cameraField = (name: string) => `spec.cameras[name=${name}]`;
