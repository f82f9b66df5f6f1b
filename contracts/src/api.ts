// The dashboard's HTTP API (Next.js route handlers under app/api), shared by the handlers and the UI hooks.
// The route table in http.ts says which routes need the session cookie `mei_session` (all but health, login, logout).
import type { MultiEdgeInferenceInput } from './job.ts';

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
  openapi: '/api/openapi.json', // GET -> this API as an OpenAPI 3.0 document (contracts/http.ts)
  jobSeries: (namespace: string, name: string) => `/api/jobs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/series`, // GET -> JobSeries | 404
  // History and person search (server/http/search-api.ts). Track ids are decimal strings (bigint).
  searchImage: '/api/search/image', // POST multipart/form-data ImageSearchFields -> PersonSearchResponse | 413 | 415 | 422 ApiError (field 'image')
  searchTrack: '/api/search/track', // POST FindTrackRequest -> PersonSearchResponse | 404
  tracks: '/api/search/tracks', // GET ?job=<ns>/<name>&cameras=&fromMs=&toMs=&limit=&before= -> TrackList
  track: (id: string) => `/api/search/tracks/${encodeURIComponent(id)}`, // GET -> TrackDetail | 404
  tracksPerHour: '/api/search/hourly', // GET ?job=<ns>/<name> -> TracksPerHour
  trackThumbnail: (id: string) => `/api/search/tracks/${encodeURIComponent(id)}/thumbnail`, // GET -> image/jpeg | 404
} as const;

// Request, response and parameter shapes: zod schemas in http.ts (types derived from them).
export type CreateJobRequest = MultiEdgeInferenceInput;

// ---- history and person search ---------------------------------------------------------------------

/** Largest query image accepted (bytes), and the bounds of each of its sides (pixels). */
export const MAX_QUERY_IMAGE_BYTES = 5 * 1024 * 1024;
export const QUERY_IMAGE_SIDE = { min: 16, max: 4096 } as const;
