// The dashboard's HTTP API (Next.js route handlers under app/api), shared by the handlers and the UI hooks.
// The route table in http.ts says which routes need the session cookie `mei_session` (all but health, login, logout).
import type { MultiEdgeInferenceInput } from './job.ts';

export const SESSION_COOKIE = 'mei_session';

// apiPaths (the URL of each route, for the UI) is derived from the route table in http.ts.

// Request, response and parameter shapes: zod schemas in http.ts (types derived from them).
export type CreateJobRequest = MultiEdgeInferenceInput;

// ---- history and person search ---------------------------------------------------------------------

/** Largest query image accepted (bytes), and the bounds of each of its sides (pixels). */
export const MAX_QUERY_IMAGE_BYTES = 5 * 1024 * 1024;
export const QUERY_IMAGE_SIDE = { min: 16, max: 4096 } as const;
