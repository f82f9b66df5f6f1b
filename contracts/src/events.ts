// The Socket.IO contract between the server, edge agents (namespace /agent) and browsers (namespace /ui).
// Payload schemas are zod so every receiver validates what arrives (bad input gets an error ack, never a
// crash); the TypeScript event maps below are derived from them and imported by server, app and edge-agent.
import { z } from 'zod';
import type {
  CameraSpec,
  CrossCameraSpec,
  DefaultedCameraSpec,
  DefaultedCrossCameraSpec,
  DefaultedModelsSpec,
  DefaultedPrivacySpec,
  DefaultedTrackingSpec,
  ModelsSpec,
  PrivacySpec,
  TrackingSpec,
} from './generated/job.ts';
import type { WatchEvent } from './job.ts';
import { BOUNDS } from './bounds.ts';
import { ENUMS } from './generated/enums.ts';

export { ENUMS } from './generated/enums.ts';

export { BOUNDS, IMAGE_BOUNDS, MAX_INT32 } from './bounds.ts';

export const AGENT_NAMESPACE = '/agent';
export const UI_NAMESPACE = '/ui';
/** Largest Socket.IO message the server accepts (bytes); bigger ones are refused by the transport. */
export const MAX_MESSAGE_BYTES = 1_000_000;
/** Largest preview JPEG (bytes) and its largest side (pixels): previews are small by design. */
export const MAX_PREVIEW_BYTES = 256_000;
export const MAX_PREVIEW_SIDE = 640;

const jobKey = z.string().min(3).max(320).regex(/^[a-z0-9][-a-z0-9]*\/[a-z0-9][-a-z0-9]*$/, 'must be <namespace>/<name>');
const name63 = z.string().min(1).max(63);
const isoTime = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time');
const finite = z.number().finite();

// ---- server -> agent -------------------------------------------------------------------------------
/**
 * The task a worker runs: the job's settings and the cameras on the worker's node (downstream), as sent. The
 * agent runs it as a TaskAssignment: the same with the CRD's defaults applied (applyTaskDefaults).
 */
export interface TaskAssignmentInput {
  jobKey: string;
  uid: string;
  generation: number;
  node: string;
  mode?: 'live' | 'history';
  cameras: CameraSpec[];
  models: ModelsSpec;
  tracking?: TrackingSpec;
  crossCamera?: CrossCameraSpec;
  privacy?: PrivacySpec;
  /** spec.workers[].threads of this node. */
  threads?: number;
  /** spec.workers[].inferenceSlots of this node: camera frames in the networks at once (absent: no budget). */
  inferenceSlots?: number;
  /** spec.workers[].floorFps of this node (absent: the CRD default, 2). */
  floorFps?: number;
  /** spec.workers[].shareReid of this node: one batched ReID network for all its cameras. */
  shareReid?: boolean;
  /** spec.workers[].spoolBytes of this node: bound of each camera's spool (absent: the agent's default). */
  spoolBytes?: number;
  /** What this job's sources and models may open on the node (contracts/src/media-policy.ts). */
  media?: MediaAccess;
}
/** A task with the CRD's defaults applied: what the server sends and the agent runs. */
export interface TaskAssignment extends Omit<TaskAssignmentInput, 'mode' | 'cameras' | 'models' | 'tracking' | 'crossCamera' | 'privacy' | 'threads' | 'floorFps'> {
  mode: 'live' | 'history';
  cameras: DefaultedCameraSpec[];
  models: DefaultedModelsSpec;
  tracking: DefaultedTrackingSpec;
  crossCamera: DefaultedCrossCameraSpec;
  privacy: DefaultedPrivacySpec;
  threads: number;
  floorFps: number;
}
/** The media policy as it applies to one job's workers, resolved by the control plane. */
export interface MediaAccess {
  /**
   * The job's media folder relative to the node's data root (MEI_DATA_DIR, placed in the worker's launch
   * config by the control plane): file sources must lie in it, symlinks followed. '' = the whole data root.
   */
  mediaDir: string;
  /** Allowed source schemes (`file` for plain paths). */
  schemes: string[];
  /** Hostnames, `*.suffix`, IP addresses or CIDRs network sources may reach. */
  allowedHosts: string[];
  allowLoopback: boolean;
}
export interface TaskStop {
  jobKey: string;
  uid: string;
  reason: string;
}
/** privacy.preview 'snapshot': a browser asked for one still frame of a camera. */
export interface PreviewRequest {
  jobKey: string;
  camera: string;
}

// ---- agent -> server -------------------------------------------------------------------------------
/** Who an agent is, from its verified token (never from a message): the claims the server signs for it. */
export interface AgentIdentity {
  jobKey: string;
  uid: string;
  node: string;
}
export const workerPhase = z.enum(ENUMS['status.workers[].phase']);
export const cameraState = z.enum(ENUMS['status.cameras[].state']);
/** A worker's phase (status.workers[].phase; runtimes observe a subset, server/backends/types.ts). */
export type WorkerPhase = z.infer<typeof workerPhase>;
/** A track's state on its camera; browsers show the visible ones (isVisible). */
export const trackState = z.enum(['tentative', 'confirmed', 'lost', 'removed']);
export type TrackState = z.infer<typeof trackState>;

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
    /** Payload bytes per second the agent sent for this camera lately (its connection counts them). */
    upstreamBytesPerSecond: z.number().int().min(0).max(1e12).optional(),
    /** Delivery (edge-agent/src/transport/spool.ts): bytes of batches not yet committed, their oldest age, batches lost. */
    spooledBytes: z.number().int().min(0).max(BOUNDS.seq).optional(),
    oldestUnsentSeconds: z.number().int().min(0).max(BOUNDS.seq).optional(),
    droppedBatches: z.number().int().min(0).max(BOUNDS.seq).optional(),
    /** Fair degradation (spec.workers[].floorFps): the floor this camera is given and whether it holds it. */
    floorFps: finite.min(0).max(1000).optional(),
    belowFloor: z.boolean().optional(),
  })
  .strict();
export type CameraReport = z.infer<typeof CameraReportSchema>;

/** An agent sends `state` at least this often; the server's upstream controller judges silence by it. */
export const HEARTBEAT_MS = 2_000;

/** Heartbeat and state in one message (upstream): sent on every change and at least every HEARTBEAT_MS. */
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
    id: z.number().int().min(0).max(BOUNDS.localId),
    x: finite.min(-BOUNDS.coordinate).max(BOUNDS.coordinate),
    y: finite.min(-BOUNDS.coordinate).max(BOUNDS.coordinate),
    w: finite.min(0).max(BOUNDS.coordinate),
    h: finite.min(0).max(BOUNDS.coordinate),
    score: finite.min(0).max(1),
    state: trackState,
  })
  .strict();
export type TrackObservation = z.infer<typeof TrackObservationSchema>;

/**
 * An embedding: 8..4096 finite numbers within ±BOUNDS.embeddingComponent. One check over the whole array
 * instead of a schema per element: a batch carries thousands of components, and per-element validation was
 * the server's largest cost after identity matching and the database (profile of bench:ingest).
 */
const embeddingVector = z.custom<number[]>(
  (v) => {
    if (!Array.isArray(v) || v.length < 8 || v.length > 4096) return false;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== 'number' || !(x >= -BOUNDS.embeddingComponent && x <= BOUNDS.embeddingComponent)) return false;
    }
    return true;
  },
  { message: `must be an array of 8..4096 finite numbers within ±${BOUNDS.embeddingComponent}` },
);

/** Per-frame observations of one camera (live overlays, identity service, history store). */
export const ObservationBatchSchema = z
  .object({
    jobKey,
    camera: name63,
    /** Per (job, camera) sequence number: the server ingests each seq once, so resends after reconnect are safe. */
    seq: z.number().int().min(0).max(BOUNDS.seq),
    /**
     * The camera run that numbered the batch (seqs and local track ids restart with a new run): a new value
     * tells the server to forget the camera's local ids. Absent: one run for the job's lifetime.
     */
    session: z.string().min(1).max(64).optional(),
    /**
     * Set by an agent whose spool (full) dropped unsent batches of this (camera, session): `count` is how many
     * in all (cumulative, so a resend counts nothing twice) and `heldFrom` the lowest seq it still holds, so a
     * seq below it that the server lacks will never come (go-back-N stops waiting for it). Absent: none dropped.
     */
    dropped: z
      .object({ count: z.number().int().min(1).max(BOUNDS.seq), heldFrom: z.number().int().min(0).max(BOUNDS.seq) })
      .strict()
      .optional(),
    frames: z
      .array(
        z
          .object({
            frameIndex: z.number().int().min(0).max(BOUNDS.frameIndex),
            timestampMs: finite.min(0).max(BOUNDS.timestampMs),
            emittedAt: finite.min(0).max(BOUNDS.timestampMs),
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
      .array(
        z
          .object({
            id: z.number().int().min(0).max(BOUNDS.localId),
            vector: embeddingVector,
          })
          .strict(),
      )
      .max(500)
      .optional(),
  })
  .strict();
export type ObservationBatch = z.infer<typeof ObservationBatchSchema>;

/** Binary payloads arrive as Buffer (Node) or ArrayBuffer (browser); both are accepted as bytes. */
const jpegBytes = z
  .custom<Uint8Array>((v) => v instanceof Uint8Array || v instanceof ArrayBuffer, 'must be binary JPEG data')
  .transform((v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v))
  .refine((v) => v.byteLength >= 4 && v.byteLength <= MAX_PREVIEW_BYTES, `must be 4..${MAX_PREVIEW_BYTES} bytes`)
  .refine((v) => v[0] === 0xff && v[1] === 0xd8, 'must be a JPEG (starts with FF D8)');

/**
 * One downscaled preview frame of a camera (privacy.preview 'live' at previewFps, or 'snapshot' on
 * request). Sent apart from observations: never queued or resent, a stale preview is worthless.
 */
export const PreviewFrameSchema = z
  .object({
    jobKey,
    camera: name63,
    frameIndex: z.number().int().min(0),
    timestampMs: finite.min(0),
    emittedAt: finite.min(0),
    /** Size of the JPEG (downscaled); overlays stay in camera pixels (LiveFrame width/height). */
    width: z.number().int().min(1).max(MAX_PREVIEW_SIDE),
    height: z.number().int().min(1).max(MAX_PREVIEW_SIDE),
    jpeg: jpegBytes,
  })
  .strict();
export type PreviewFrame = z.infer<typeof PreviewFrameSchema>;

/** Largest track thumbnail JPEG (bytes) and its largest side (pixels): a person crop, not a picture. */
export const MAX_THUMBNAIL_BYTES = 32_000;
export const MAX_THUMBNAIL_SIDE = 160;
/**
 * The one thumbnail producer is the agent (video stays on site; the server only stores crops). It sends a
 * track's crop again only with this many times the pixels of the last, and the server replaces a track's
 * stored thumbnail by the same factor.
 */
export const THUMBNAIL_UPGRADE = 2;

/**
 * privacy.preview 'thumbnails' (or 'live'): a small crop of one confirmed track, cut by the agent from the
 * full-resolution frame. Sent when the track is first confirmed and again only for a clearly larger crop;
 * like previews never queued or resent. The server keeps one per track (the history thumbnail).
 */
export const TrackThumbnailSchema = z
  .object({
    jobKey,
    camera: name63,
    /** The camera run that numbered the track (ObservationBatch.session). */
    session: z.string().min(1).max(64).optional(),
    /** Local track id (TrackObservation.id). */
    localId: z.number().int().min(0).max(BOUNDS.localId),
    frameIndex: z.number().int().min(0).max(BOUNDS.frameIndex),
    timestampMs: finite.min(0).max(BOUNDS.timestampMs),
    /** Size of the JPEG. */
    width: z.number().int().min(1).max(MAX_THUMBNAIL_SIDE),
    height: z.number().int().min(1).max(MAX_THUMBNAIL_SIDE),
    jpeg: jpegBytes.refine((v) => v.byteLength <= MAX_THUMBNAIL_BYTES, `must be at most ${MAX_THUMBNAIL_BYTES} bytes`),
  })
  .strict();
export type TrackThumbnail = z.infer<typeof TrackThumbnailSchema>;

export type Ack = { ok: true } | { ok: false; error: string; field?: string };
export type AckFn = (res: Ack) => void;

/**
 * The server's answer to an observation batch. The agent decides from `code` alone (never from error text):
 * - committed: every seq <= `through` of the batch's (job, camera, session) is durable (cumulative, so several
 *   batches may be in flight); the agent forgets them.
 * - retry-later: nothing of this batch was stored (server saturated, not ready, not leader, database down);
 *   send it again after `retryAfterMs`. A transport failure (disconnect, ack timeout) is treated the same.
 * - refused: the batch can never be stored as it is (`field` names why); resending cannot help, so the agent
 *   drops it (and counts it) and goes on with the next.
 */
export type IngestAck =
  | { code: 'committed'; through: number }
  | { code: 'retry-later'; retryAfterMs: number; reason: string }
  | { code: 'refused'; field: string; error: string };
export type IngestAckFn = (res: IngestAck) => void;

export interface AgentToServerEvents {
  'task:ack': (msg: TaskAck, ack?: AckFn) => void;
  state: (msg: AgentState, ack?: AckFn) => void;
  /** Protocol 1: the batch as JSON; protocol 2 (negotiated in the handshake): its wire/index.ts bytes. */
  observations: (msg: ObservationBatch | Uint8Array, ack?: IngestAckFn) => void;
  preview: (msg: z.input<typeof PreviewFrameSchema>, ack?: AckFn) => void;
  thumbnail: (msg: z.input<typeof TrackThumbnailSchema>, ack?: AckFn) => void;
}
export interface ServerToAgentEvents {
  task: (task: TaskAssignmentInput) => void;
  'task:stop': (stop: TaskStop) => void;
  'preview:request': (req: PreviewRequest) => void;
}

// ---- browser <-> server ----------------------------------------------------------------------------
export const SubscribeJobsSchema = z.object({ namespace: z.string().min(1).max(63).optional() }).strict();
export const SubscribeLiveSchema = z.object({ jobKey }).strict();
export const SnapshotRequestSchema = z.object({ jobKey, camera: name63 }).strict();

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
/** Which camera frame a live message is about. */
interface LiveFrameHeader {
  jobKey: string;
  camera: string;
  frameIndex: number;
  timestampMs: number;
  /** Wall-clock ms when the agent emitted the frame (latency measurement). */
  emittedAt: number;
  width: number;
  height: number;
}
export interface LiveFrame extends LiveFrameHeader {
  tracks: LiveTrack[];
}
/** A preview JPEG as a browser gets it (bytes: ArrayBuffer in the browser). */
export interface LivePreview extends LiveFrameHeader {
  jpeg: ArrayBuffer | Uint8Array;
}
/**
 * A person crop as a browser gets it (privacy.preview 'thumbnails' or 'live'): the newest crop of any track
 * of `identity`. Latest wins per identity; after a merge the newer crop of the two ids stays with `into`.
 */
export interface LiveThumbnail {
  jobKey: string;
  /** The global identity the crop shows (the identity service's id of camera/localId when it was published). */
  identity: string;
  camera: string;
  localId: number;
  /** Server wall-clock ms when the crop arrived: of two merged identities' crops the newer one is kept. */
  receivedAt: number;
  /** Size of the JPEG (at most MAX_THUMBNAIL_SIDE). */
  width: number;
  height: number;
  jpeg: ArrayBuffer | Uint8Array;
}
/** A global identity of the live view: where it is now and when it was last seen. */
export interface LiveIdentity {
  id: string;
  /** Cameras whose latest frame shows it (empty: not in view now). */
  cameras: string[];
  /** Wall-clock ms of the last frame that showed it. */
  lastSeen: number;
  /** Wall-clock ms of the first frame that showed it. */
  firstSeen: number;
}
export interface LiveIdentities {
  jobKey: string;
  /** Recently seen identities, in view first, then by last seen (bounded). */
  identities: LiveIdentity[];
  /** Global identities seen so far (what status.identities reports). */
  total: number;
  /** Ids merged into another since the last update: browsers relabel trails and follow targets. */
  merged: Array<{ from: string; into: string }>;
}

/**
 * Browsers acknowledge live:* messages on receipt: the server keeps at most one unacknowledged message per
 * client and camera and replaces a waiting one with the newest (latest frame wins), so a slow browser
 * misses frames instead of building a queue.
 */
export type LiveAckFn = () => void;

export interface UiToServerEvents {
  'jobs:subscribe': (msg: z.infer<typeof SubscribeJobsSchema>, ack?: AckFn) => void;
  'jobs:unsubscribe': (msg: z.infer<typeof SubscribeJobsSchema>, ack?: AckFn) => void;
  'live:subscribe': (msg: z.infer<typeof SubscribeLiveSchema>, ack?: AckFn) => void;
  'live:unsubscribe': (msg: z.infer<typeof SubscribeLiveSchema>, ack?: AckFn) => void;
  /** privacy.preview 'snapshot': ask the camera's agent for one still frame (arrives as live:preview). */
  'live:snapshot': (msg: z.infer<typeof SnapshotRequestSchema>, ack?: AckFn) => void;
}
export interface ServerToUiEvents {
  job: (ev: WatchEvent) => void;
  'live:frame': (frame: LiveFrame, ack: LiveAckFn) => void;
  'live:preview': (preview: LivePreview, ack: LiveAckFn) => void;
  /** privacy.preview 'thumbnails' or 'live': the newest person crop of one identity. */
  'live:thumbnail': (thumb: LiveThumbnail, ack: LiveAckFn) => void;
  'live:identities': (msg: LiveIdentities, ack: LiveAckFn) => void;
}

// ---- event tables ------------------------------------------------------------------------------------
/**
 * `observations` in either protocol: a JSON batch (protocol 1) or its wire/index.ts bytes (protocol 2). The
 * ingest parses it for the connection's negotiated protocol (parseObservationPayload); this only types it.
 */
const ObservationPayloadSchema = z.custom<ObservationBatch | Uint8Array>((v) => v instanceof Uint8Array || (v !== null && typeof v === 'object'), 'must be an observation batch');

/**
 * Every event an agent may send, with the schema its payload must pass. The server registers its handlers
 * from this table (server/realtime/socket-server.ts) and answers any other event with an error.
 */
export const AGENT_EVENTS = {
  'task:ack': TaskAckSchema,
  state: AgentStateSchema,
  observations: ObservationPayloadSchema,
  preview: PreviewFrameSchema,
  thumbnail: TrackThumbnailSchema,
} as const satisfies { [K in keyof AgentToServerEvents]: z.ZodType };

/** Every event a browser may send, with the schema its payload must pass (as AGENT_EVENTS). */
export const UI_EVENTS = {
  'jobs:subscribe': SubscribeJobsSchema,
  'jobs:unsubscribe': SubscribeJobsSchema,
  'live:subscribe': SubscribeLiveSchema,
  'live:unsubscribe': SubscribeLiveSchema,
  'live:snapshot': SnapshotRequestSchema,
} as const satisfies { [K in keyof UiToServerEvents]: z.ZodType };

export type AgentEvent = keyof typeof AGENT_EVENTS;
export type UiEvent = keyof typeof UI_EVENTS;
/** The payload of `event` of an event table as the receiver gets it after validation. */
export type EventPayload<T extends Record<string, z.ZodType>, K extends keyof T> = z.output<T[K]>;

/** Formats a zod failure as one line naming the field, e.g. `cameras[0].fps: Expected number`. */
export function describeZodError(err: z.ZodError): { error: string; field: string } {
  const issue = err.issues[0];
  const field = issue.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)), '');
  return { field, error: `${field || '(message)'}: ${issue.message}` };
}
