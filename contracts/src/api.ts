// The dashboard's HTTP API (Next.js route handlers under app/api), shared by the handlers and the UI hooks.
// Every route except /api/auth/login and /api/health needs the session cookie `mei_session`.
import type { FieldError } from './validation.ts';
import type { MultiEdgeInference, MultiEdgeInferenceInput } from './job.ts';

export const SESSION_COOKIE = 'mei_session';

export const apiPaths = {
  login: '/api/auth/login', // POST LoginRequest -> 200 Me (sets cookie) | 401 ApiError
  logout: '/api/auth/logout', // POST -> 204
  me: '/api/auth/me', // GET -> Me | 401
  info: '/api/info', // GET -> ServerInfo
  schema: '/api/schema', // GET -> the CRD openAPIV3Schema (for the browser form's validator)
  jobs: '/api/jobs', // GET ?namespace= -> JobList ; POST MultiEdgeInferenceInput -> 201 job | 422 ValidationFailure | 409 ApiError
  job: (namespace: string, name: string) => `/api/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, // GET -> job | 404 ; DELETE -> 202
  health: '/api/health',
  jobSeries: (namespace: string, name: string) => `/api/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/series`, // GET -> JobSeries | 404
  // History and person search (server/http/search-api.ts). Track ids are decimal strings (bigint).
  searchImage: '/api/search/image', // POST multipart/form-data ImageSearchFields -> PersonSearchResponse | 413 | 415 | 422 ApiError (field 'image')
  searchTrack: '/api/search/track', // POST FindTrackRequest -> PersonSearchResponse | 404
  tracks: '/api/search/tracks', // GET ?job=<ns>/<name>&camera=&from=&to=&limit=&before= -> TrackList
  track: (id: string) => `/api/search/tracks/${encodeURIComponent(id)}`, // GET -> TrackDetail | 404
  tracksPerHour: '/api/search/hourly', // GET ?job=<ns>/<name> -> TracksPerHour
  trackThumbnail: (id: string) => `/api/search/tracks/${encodeURIComponent(id)}/thumbnail`, // GET -> image/jpeg | 404
} as const;

export interface LoginRequest {
  username: string;
  password: string;
}
export interface Me {
  username: string;
  /** Namespaces this user may see and change; ['*'] means all. */
  namespaces: string[];
}
export interface ServerInfo {
  mode: 'embedded' | 'kubernetes';
  version: string;
  database: 'pglite' | 'postgresql';
}
/** One sample of a camera's recent behaviour (server wall-clock ms `t`). */
export interface CameraSample {
  t: number;
  fps?: number;
  /** People tracked now (status activeTracks). */
  people?: number;
  /** Median emit -> server latency (ms) of the live frames since the previous sample. */
  latencyMs?: number;
}
/** The last minutes of each camera of a job, for the job page's charts (kept in server memory, not stored). */
export interface JobSeries {
  /** Sampling step and how far back samples are kept (ms). */
  stepMs: number;
  windowMs: number;
  cameras: Array<{ name: string; samples: CameraSample[] }>;
}
/** Tracks that started in each hour (source clock: epoch for live cameras, offset into the file for recorded ones). */
export interface TracksPerHour {
  jobKey: string;
  buckets: Array<{ camera: string; hourStartMs: number; tracks: number }>;
}
export interface JobList {
  items: MultiEdgeInference[];
}
export interface ApiError {
  error: string;
  /** The field the error is about, when there is one. */
  field?: string;
}
export interface ValidationFailure extends ApiError {
  errors: FieldError[];
}
export type CreateJobRequest = MultiEdgeInferenceInput;

// ---- history and person search ---------------------------------------------------------------------

/** Largest query image accepted (bytes), and the bounds of each of its sides (pixels). */
export const MAX_QUERY_IMAGE_BYTES = 5 * 1024 * 1024;
export const QUERY_IMAGE_SIDE = { min: 16, max: 4096 } as const;

/**
 * Form fields of POST searchImage (multipart/form-data): `image` (a JPEG or PNG file, the person or a scene
 * with them), `job` (<namespace>/<name>: whose tracks, and whose ReID model embeds the image), and optional
 * filters `cameras` (comma-separated), `from`/`to` (ms on the tracks' clock), `limit` (identities, 1..100),
 * `detect` ('true': run the job's person detector and embed the largest person; 422 when there is none).
 */
export type ImageSearchField = 'image' | 'job' | 'cameras' | 'from' | 'to' | 'limit' | 'detect';

export interface SearchFilters {
  cameras?: string[];
  /** Time range on the tracks' clock (epoch ms for live cameras, ms into the file for recorded ones). */
  fromMs?: number;
  toMs?: number;
  /** Identities to return (default 20, at most 100). */
  limit?: number;
}

/** "Find this person": the stored track's representative embeddings are the query. */
export interface FindTrackRequest extends SearchFilters {
  trackId: string;
  /** Job to search (<namespace>/<name>); default the track's own job. */
  job?: string;
}

/** A stored track. Times are on the source's clock: epoch ms (live) or ms into the recording (history). */
export interface StoredTrack {
  id: string;
  jobKey: string;
  jobUid: string;
  camera: string;
  localId: number;
  /** The cross-camera identity, once the identity service joined the track to one. */
  globalId: string | null;
  startMs: number;
  endMs: number;
  /** Size of the camera's frame the boxes are in (0 when unknown). */
  frameWidth: number;
  frameHeight: number;
  /** A thumbnail exists (the job's privacy.preview allowed one and retention kept it). */
  thumbnail: boolean;
}

export interface TrackList {
  items: StoredTrack[];
  /** Every camera of the job that has stored tracks (for filters). */
  cameras: string[];
  /** More (older) tracks: pass as `before`. */
  next?: string;
}

/** One trajectory point: [tMs, x, y, w, h, score], box in the camera's pixels. */
export type TrajectoryPoint = [number, number, number, number, number, number];

export interface TrackDetail extends StoredTrack {
  points: TrajectoryPoint[];
}

export interface MatchedTrack extends StoredTrack {
  /**
   * Cosine distance of the track's nearest representative embedding to the query (0 same .. 2 opposite);
   * a track too short to have an embedding takes its identity's distance.
   */
  distance: number;
}

export interface CameraSpans {
  camera: string;
  spans: Array<{ trackId: string; startMs: number; endMs: number }>;
}

/** The tracks of one person (global identity), nearest first. */
export interface IdentityMatch {
  /** The global identity, or `track:<id>` for a track that was never joined to one. */
  identity: string;
  jobKey: string;
  /** Best (smallest) distance of its tracks. */
  distance: number;
  startMs: number;
  endMs: number;
  cameras: CameraSpans[];
  tracks: MatchedTrack[];
}

export interface PersonSearchResponse {
  query: {
    kind: 'image' | 'track';
    jobKey: string;
    /** The embeddings compared (embeddings.model): only vectors of one model are comparable. */
    model: string;
    trackId?: string;
    /** Image queries: the image size and the person box that was embedded (the whole image without detection). */
    image?: { width: number; height: number; box: { x: number; y: number; w: number; h: number }; detected: boolean };
  };
  identities: IdentityMatch[];
  stats: {
    /** Stored embeddings of the model that the search could reach. */
    indexed: number;
    /** Embeddings compared in detail (nearest candidates). */
    candidates: number;
    ms: number;
  };
}
