// The Socket.IO contract between the server, edge agents (namespace /agent) and browsers (namespace /ui).
// Payload schemas are zod so every receiver validates what arrives (bad input gets an error ack, never a
// crash); the TypeScript event maps below are derived from them and imported by server, app and edge-agent.
import { z } from 'zod';
import type { CameraSpec, CrossCameraSpec, ModelsSpec, PrivacySpec, TrackingSpec } from './generated/job.ts';
import type { WatchEvent } from './job.ts';

export const AGENT_NAMESPACE = '/agent';
export const UI_NAMESPACE = '/ui';
/** Largest Socket.IO message the server accepts (bytes); bigger ones are refused by the transport. */
export const MAX_MESSAGE_BYTES = 1_000_000;

const jobKey = z.string().min(3).max(320).regex(/^[a-z0-9][-a-z0-9]*\/[a-z0-9][-a-z0-9]*$/, 'must be <namespace>/<name>');
const name63 = z.string().min(1).max(63);
const isoTime = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time');
const finite = z.number().finite();

// ---- server -> agent -------------------------------------------------------------------------------
/** The task a worker runs: the job's settings and the cameras on the worker's node (downstream). */
export interface TaskAssignment {
  jobKey: string;
  uid: string;
  generation: number;
  node: string;
  mode: 'live' | 'history';
  cameras: CameraSpec[];
  models: ModelsSpec;
  tracking?: TrackingSpec;
  crossCamera?: CrossCameraSpec;
  privacy?: PrivacySpec;
  threads?: number;
}
export interface TaskStop {
  jobKey: string;
  uid: string;
  reason: string;
}

// ---- agent -> server -------------------------------------------------------------------------------
export const workerPhase = z.enum(['Pending', 'Starting', 'Running', 'Succeeded', 'Failed', 'Stopped']);
export const cameraState = z.enum(['Pending', 'Connecting', 'Streaming', 'Retrying', 'Completed', 'Failed']);

export const TaskAckSchema = z.object({ jobKey, uid: z.string().min(1).max(64), generation: z.number().int().min(0) }).strict();
export type TaskAck = z.infer<typeof TaskAckSchema>;

export const CameraReportSchema = z
  .object({
    name: name63,
    state: cameraState,
    fps: finite.min(0).max(1000).optional(),
    activeTracks: z.number().int().min(0).max(100_000).optional(),
    framesProcessed: z.number().int().min(0).optional(),
    totalFrames: z.number().int().min(0).optional(),
    message: z.string().max(1024).optional(),
    lastFrameTime: isoTime.optional(),
  })
  .strict();
export type CameraReport = z.infer<typeof CameraReportSchema>;

/** Heartbeat and state in one message (upstream): sent on every change and at least every few seconds. */
export const AgentStateSchema = z
  .object({
    jobKey,
    uid: z.string().min(1).max(64),
    phase: workerPhase,
    message: z.string().max(1024).optional(),
    sentAt: isoTime,
    cameras: z.array(CameraReportSchema).max(64),
  })
  .strict();
export type AgentState = z.infer<typeof AgentStateSchema>;

export const TrackObservationSchema = z
  .object({
    id: z.number().int().min(0),
    x: finite,
    y: finite,
    w: finite.min(0),
    h: finite.min(0),
    score: finite.min(0).max(1),
    state: z.enum(['tentative', 'confirmed', 'lost', 'removed']),
  })
  .strict();
export type TrackObservation = z.infer<typeof TrackObservationSchema>;

/** Per-frame observations of one camera (live overlays, identity service, history store). */
export const ObservationBatchSchema = z
  .object({
    jobKey,
    camera: name63,
    /** Per (job, camera) sequence number: the server ingests each seq once, so resends after reconnect are safe. */
    seq: z.number().int().min(0),
    frames: z
      .array(
        z
          .object({
            frameIndex: z.number().int().min(0),
            timestampMs: finite.min(0),
            emittedAt: finite.min(0),
            width: z.number().int().min(1).max(16384),
            height: z.number().int().min(1).max(16384),
            tracks: z.array(TrackObservationSchema).max(500),
          })
          .strict(),
      )
      .min(1)
      .max(100),
    /** Track embeddings (L2-normalised), sent periodically rather than every frame. */
    embeddings: z
      .array(z.object({ id: z.number().int().min(0), vector: z.array(finite).min(8).max(4096) }).strict())
      .max(500)
      .optional(),
  })
  .strict();
export type ObservationBatch = z.infer<typeof ObservationBatchSchema>;

export type Ack = { ok: true } | { ok: false; error: string; field?: string };
export type AckFn = (res: Ack) => void;

export interface AgentToServerEvents {
  'task:ack': (msg: TaskAck, ack?: AckFn) => void;
  state: (msg: AgentState, ack?: AckFn) => void;
  observations: (msg: ObservationBatch, ack?: AckFn) => void;
}
export interface ServerToAgentEvents {
  task: (task: TaskAssignment) => void;
  'task:stop': (stop: TaskStop) => void;
}

// ---- browser <-> server ----------------------------------------------------------------------------
export const SubscribeJobsSchema = z.object({ namespace: z.string().min(1).max(63).optional() }).strict();
export const SubscribeLiveSchema = z.object({ jobKey }).strict();

/** A tracked person as a browser draws it: the local track joined to its global identity. */
export interface LiveTrack {
  localId: number;
  globalId: string;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  state: TrackObservation['state'];
}
export interface LiveFrame {
  jobKey: string;
  camera: string;
  frameIndex: number;
  timestampMs: number;
  /** Wall-clock ms when the agent emitted the frame (latency measurement). */
  emittedAt: number;
  width: number;
  height: number;
  tracks: LiveTrack[];
}

export interface UiToServerEvents {
  'jobs:subscribe': (msg: z.infer<typeof SubscribeJobsSchema>, ack?: AckFn) => void;
  'jobs:unsubscribe': (msg: z.infer<typeof SubscribeJobsSchema>, ack?: AckFn) => void;
  'live:subscribe': (msg: z.infer<typeof SubscribeLiveSchema>, ack?: AckFn) => void;
  'live:unsubscribe': (msg: z.infer<typeof SubscribeLiveSchema>, ack?: AckFn) => void;
}
export interface ServerToUiEvents {
  job: (ev: WatchEvent) => void;
  'live:frame': (frame: LiveFrame) => void;
}

/** Formats a zod failure as one line naming the field, e.g. `cameras[0].fps: Expected number`. */
export function describeZodError(err: z.ZodError): { error: string; field: string } {
  const issue = err.issues[0];
  const field = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)), '');
  return { field, error: `${field || '(message)'}: ${issue.message}` };
}
