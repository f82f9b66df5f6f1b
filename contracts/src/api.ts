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
