// The HTTP API's contract: a zod schema for every route's path parameters, query string and body, the
// response shapes, and one route table (method, path, auth, schemas). The handlers in server/http parse
// with these schemas, and the OpenAPI document (openapi.ts, served at /api/openapi.json) is generated from
// the same table, so what is documented is what is enforced. One name per parameter: the search routes
// take `cameras`, `fromMs`, `toMs` in the query, in form fields and in JSON bodies alike.
import { z } from 'zod';
import { MAX_QUERY_IMAGE_BYTES } from './api.ts';
import type { MultiEdgeInference } from './job.ts';
import { parseJobKey } from './job.ts';
import { validateObjectName, type FieldError } from './validation.ts';

// ---- bounds ---------------------------------------------------------------------------------------------

/** Person search: identities returned by default and at most. */
export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 100;
/** Track lists: tracks per page by default and at most. */
export const DEFAULT_TRACKS_PAGE = 100;
export const MAX_TRACKS_PAGE = 500;
/** A job has at most 64 cameras (the CRD's maxItems), each named in at most 63 characters. */
const MAX_CAMERAS = 64;
const MAX_CAMERA_NAME = 63;
/** Stored track ids: positive decimal integers (a bigint column), as strings. */
export const TRACK_ID_PATTERN = /^[1-9][0-9]{0,17}$/;

/**
 * Parameters renamed to one name per parameter: naming an old one is a 400 that says the new name, so a
 * caller learns of the rename instead of having its filter silently ignored.
 */
export const RENAMED_PARAMETERS: Readonly<Record<string, string>> = { from: 'fromMs', to: 'toMs', camera: 'cameras' };

// ---- parameter schemas ----------------------------------------------------------------------------------

/** A Kubernetes object name (namespace or job name), checked by the same rule as metadata.name. */
const objectName = (what: 'namespace' | 'name') =>
  z
    .string({ required_error: `required: the ${what}` })
    .superRefine((v, ctx) => {
      for (const e of validateObjectName(v, what)) ctx.addIssue({ code: 'custom', message: e.message });
    })
    .describe(`The ${what === 'name' ? "job's name" : 'namespace'}: a lowercase RFC 1123 label of at most 63 characters.`);

/** <namespace>/<name> of a job; each part a valid object name. */
const jobKey = z
  .string({ required_error: 'required: <namespace>/<name> of a job', invalid_type_error: 'must be <namespace>/<name> of a job' })
  .superRefine((v, ctx) => {
    let parts: { namespace: string; name: string };
    try {
      parts = parseJobKey(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return;
    }
    for (const [part, value] of [['namespace', parts.namespace], ['name', parts.name]] as const) {
      const errs = validateObjectName(value, part);
      if (errs.length) return void ctx.addIssue({ code: 'custom', message: `${part}: ${errs[0].message}` });
    }
  })
  .describe('A job as <namespace>/<name>.');

const trackId = z
  .string({ required_error: 'required: a track id', invalid_type_error: 'must be a track id (a positive integer)' })
  .regex(TRACK_ID_PATTERN, 'must be a track id (a positive integer)')
  .describe('A stored track id: a positive decimal integer, as a string.');

const cameraName = z.string().max(MAX_CAMERA_NAME, `a camera name is at most ${MAX_CAMERA_NAME} characters`);
const cameraList = z.array(cameraName).max(MAX_CAMERAS, `at most ${MAX_CAMERAS} cameras`);
const cameraListDescription = 'Only tracks of these cameras.';

/** Query strings and form fields carry text: '' is absent, a list is comma-separated (or repeated in a query). */
const blankToUndefined = (v: unknown) => (v === '' ? undefined : v);
const textNumber = (v: unknown) => {
  v = blankToUndefined(v);
  if (typeof v !== 'string') return v;
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : v; // left a string: refused as "expected number"
};
const textList = (v: unknown) => {
  v = blankToUndefined(v);
  const parts = typeof v === 'string' ? v.split(',') : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.flatMap((x: string) => x.split(',')) : undefined;
  if (!parts) return v;
  const names = parts.map((c) => c.trim()).filter(Boolean);
  return names.length ? names : undefined;
};
const textBoolean = (v: unknown) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' || v === '' ? false : v);

const time = z.number().finite();
const intIn = (min: number, max: number) => z.number().int('must be an integer').min(min, `must be in ${min}..${max}`).max(max, `must be in ${min}..${max}`);
const timeRange = {
  fromMs: time.describe("Tracks that end at or after this time (ms on the tracks' clock: epoch for live cameras, into the file for recorded ones).").optional(),
  toMs: time.describe('Tracks that start at or before this time (same clock as fromMs).').optional(),
};
const fromNotAfterTo = (v: { fromMs?: number; toMs?: number }, ctx: z.RefinementCtx) => {
  if (v.fromMs !== undefined && v.toMs !== undefined && v.fromMs > v.toMs) ctx.addIssue({ code: 'custom', path: ['fromMs'], message: `is after toMs (${v.fromMs} > ${v.toMs})` });
};
const searchLimit = intIn(1, MAX_SEARCH_LIMIT).describe(`Identities to return (default ${DEFAULT_SEARCH_LIMIT}).`);

/** The same filter fields as text (query strings and multipart forms). */
const textFilters = {
  cameras: z.preprocess(textList, cameraList.optional()).describe(`${cameraListDescription} Comma-separated.`),
  fromMs: z.preprocess(textNumber, timeRange.fromMs),
  toMs: z.preprocess(textNumber, timeRange.toMs),
};

// ---- request schemas ------------------------------------------------------------------------------------

export const LoginRequestSchema = z
  .object({
    username: z.string().min(1, 'a non-empty string is required').max(256),
    password: z.string().max(1024),
  })
  .strict();
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const HealthQuerySchema = z
  .object({ live: z.string().optional().describe('Present: only ask whether the process serves (the liveness probe); 200 even while not ready.') })
  .strict();

export const JobListQuerySchema = z.object({ namespace: objectName('namespace').optional() }).strict();
export const JobParamsSchema = z.object({ namespace: objectName('namespace'), name: objectName('name') }).strict();
export const TrackParamsSchema = z.object({ id: trackId }).strict();
export const JobQuerySchema = z.object({ job: jobKey }).strict();

/**
 * A job to create: the CRD's schema (validated against it, 422 naming the field); here only "an object",
 * passed on as sent (a z.record would copy it and drop a `__proto__` key that the CRD check must refuse).
 */
export const JobInputSchema = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be a JSON object (a MultiEdgeInference)');

/** Cameras and time range of a search or track list (JSON form; query strings and forms use text). */
export const SearchFiltersSchema = z.object({
  cameras: cameraList.describe(cameraListDescription).optional(),
  ...timeRange,
  limit: searchLimit.optional(),
});
export type SearchFilters = z.infer<typeof SearchFiltersSchema>;

/** "Find this person": the stored track's representative embeddings are the query. */
export const FindTrackRequestSchema = SearchFiltersSchema.extend({
  trackId,
  job: jobKey.describe("The job to search as <namespace>/<name> (default: the track's own job).").optional(),
})
  .strict()
  .superRefine(fromNotAfterTo);
export type FindTrackRequest = z.infer<typeof FindTrackRequestSchema>;

/**
 * Form fields of POST searchImage (multipart/form-data) beside the `image` file (a JPEG or PNG, the person
 * or a scene with them): `job` (whose tracks, and whose ReID model embeds the image), the filters, `limit`,
 * and `detect` (run the job's person detector and embed the largest person; 422 when there is none).
 */
export const ImageSearchFormSchema = z
  .object({
    job: jobKey,
    ...textFilters,
    limit: z.preprocess(textNumber, searchLimit.optional()),
    detect: z
      .preprocess(textBoolean, z.boolean({ invalid_type_error: 'must be true or false' }).optional())
      .describe('true: run the job\'s person detector and embed the largest person (422 when there is none); false (default): embed the whole image.'),
  })
  .strict()
  .superRefine(fromNotAfterTo);
/** The multipart file field of searchImage. */
export const IMAGE_FIELD = 'image';
export type ImageSearchField = typeof IMAGE_FIELD | keyof z.input<typeof ImageSearchFormSchema>;

export const TrackListQuerySchema = z
  .object({
    job: jobKey,
    ...textFilters,
    limit: z.preprocess(textNumber, intIn(1, MAX_TRACKS_PAGE).optional()).describe(`Tracks per page (default ${DEFAULT_TRACKS_PAGE}).`),
    before: trackId.describe('Page on: tracks older than this one (the `next` of the previous page).').optional(),
  })
  .strict()
  .superRefine(fromNotAfterTo);

// ---- response schemas -----------------------------------------------------------------------------------

export const ApiErrorSchema = z.object({
  error: z.string(),
  field: z.string().describe('The field the error is about, when there is one.').optional(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

export const ValidationFailureSchema = ApiErrorSchema.extend({
  errors: z.array(z.object({ field: z.string(), reason: z.string(), message: z.string() })),
});
export type ValidationFailure = ApiError & { errors: FieldError[] };

export const MeSchema = z.object({
  username: z.string(),
  namespaces: z.array(z.string()).describe("Namespaces this user may see and change; ['*'] means all."),
});
export type Me = z.infer<typeof MeSchema>;

export const ServerInfoSchema = z.object({
  mode: z.enum(['embedded', 'kubernetes']),
  version: z.string(),
  database: z.enum(['pglite', 'postgresql']),
});
export type ServerInfo = z.infer<typeof ServerInfoSchema>;

export const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  role: z.string().describe('single, leader or standby.'),
  message: z.string().optional(),
  ingest: z.string().describe('Servers without the dashboard (MEI_DASHBOARD=off) only: the ingest state.').optional(),
});
export type Health = z.infer<typeof HealthSchema>;

/** A job as stored (the CRD's schema: the OpenAPI document refers to it as MultiEdgeInference). */
export const JobSchema = z.custom<MultiEdgeInference>((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
export const JobListSchema = z.object({ items: z.array(JobSchema) });
export type JobList = z.infer<typeof JobListSchema>;

/** One sample of a camera's recent behaviour (server wall-clock ms `t`). */
export const CameraSampleSchema = z.object({
  t: z.number(),
  fps: z.number().optional(),
  people: z.number().describe('People tracked now (status activeTracks).').optional(),
  latencyMs: z.number().describe('Median emit -> server latency (ms) of the live frames since the previous sample.').optional(),
});
export type CameraSample = z.infer<typeof CameraSampleSchema>;

/** The last minutes of each camera of a job, for the job page's charts (kept in server memory, not stored). */
export const JobSeriesSchema = z.object({
  stepMs: z.number().describe('Sampling step (ms).'),
  windowMs: z.number().describe('How far back samples are kept (ms).'),
  cameras: z.array(z.object({ name: z.string(), samples: z.array(CameraSampleSchema) })),
});
export type JobSeries = z.infer<typeof JobSeriesSchema>;

/** Tracks that started in each hour (source clock: epoch for live cameras, offset into the file for recorded ones). */
export const TracksPerHourSchema = z.object({
  jobKey: z.string(),
  buckets: z.array(z.object({ camera: z.string(), hourStartMs: z.number(), tracks: z.number().int() })),
});
export type TracksPerHour = z.infer<typeof TracksPerHourSchema>;

/** A stored track. Times are on the source's clock: epoch ms (live) or ms into the recording (history). */
export const StoredTrackSchema = z.object({
  id: z.string(),
  jobKey: z.string(),
  jobUid: z.string(),
  camera: z.string(),
  localId: z.number().int(),
  globalId: z.string().nullable().describe('The cross-camera identity, once the identity service joined the track to one.'),
  startMs: z.number(),
  endMs: z.number(),
  frameWidth: z.number().describe("Width of the camera's frame the boxes are in (0 when unknown)."),
  frameHeight: z.number(),
  thumbnail: z.boolean().describe("A thumbnail exists (the job's privacy.preview allowed one and retention kept it)."),
});
export type StoredTrack = z.infer<typeof StoredTrackSchema>;

export const TrackListSchema = z.object({
  items: z.array(StoredTrackSchema),
  cameras: z.array(z.string()).describe('Every camera of the job that has stored tracks (for filters).'),
  next: z.string().describe('More (older) tracks: pass as `before`.').optional(),
});
export type TrackList = z.infer<typeof TrackListSchema>;

/** One trajectory point: [tMs, x, y, w, h, score], box in the camera's pixels. */
export const TrajectoryPointSchema = z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]);
export type TrajectoryPoint = z.infer<typeof TrajectoryPointSchema>;

export const TrackDetailSchema = StoredTrackSchema.extend({ points: z.array(TrajectoryPointSchema) });
export type TrackDetail = z.infer<typeof TrackDetailSchema>;

export const MatchedTrackSchema = StoredTrackSchema.extend({
  distance: z
    .number()
    .describe("Cosine distance of the track's nearest representative embedding to the query (0 same .. 2 opposite); a track too short to have an embedding takes its identity's distance."),
});
export type MatchedTrack = z.infer<typeof MatchedTrackSchema>;

export const CameraSpansSchema = z.object({
  camera: z.string(),
  spans: z.array(z.object({ trackId: z.string(), startMs: z.number(), endMs: z.number() })),
});
export type CameraSpans = z.infer<typeof CameraSpansSchema>;

/** The tracks of one person (global identity), nearest first. */
export const IdentityMatchSchema = z.object({
  identity: z.string().describe('The global identity, or `track:<id>` for a track that was never joined to one.'),
  jobKey: z.string(),
  distance: z.number().describe('Best (smallest) distance of its tracks.'),
  startMs: z.number(),
  endMs: z.number(),
  cameras: z.array(CameraSpansSchema),
  tracks: z.array(MatchedTrackSchema),
});
export type IdentityMatch = z.infer<typeof IdentityMatchSchema>;

const boxSchema = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() });
export const PersonSearchResponseSchema = z.object({
  query: z.object({
    kind: z.enum(['image', 'track']),
    jobKey: z.string(),
    model: z.string().describe('The embeddings compared (embeddings.model): only vectors of one model are comparable.'),
    trackId: z.string().optional(),
    image: z
      .object({ width: z.number(), height: z.number(), box: boxSchema, detected: z.boolean() })
      .describe('Image queries: the image size and the person box that was embedded (the whole image without detection).')
      .optional(),
  }),
  identities: z.array(IdentityMatchSchema),
  stats: z.object({
    indexed: z.number().describe('Stored embeddings of the model that the search could reach.'),
    candidates: z.number().describe('Embeddings compared in detail (nearest candidates).'),
    ms: z.number(),
  }),
});
export type PersonSearchResponse = z.infer<typeof PersonSearchResponseSchema>;

/** The CRD's openAPIV3Schema (GET /api/schema) and the OpenAPI document: JSON objects. */
const JsonObjectSchema = z.record(z.string(), z.unknown());

// ---- the route table ------------------------------------------------------------------------------------

export type HttpMethod = 'GET' | 'POST' | 'DELETE';
export interface HttpResponseSpec {
  description: string;
  /** JSON body; absent with `type` for another content type, or for no body. */
  schema?: z.ZodTypeAny;
  type?: string;
}
export type HttpBodySpec =
  | { type: 'application/json'; schema: z.ZodTypeAny; maxBytes: number }
  | { type: 'multipart/form-data'; schema: z.ZodTypeAny; fields: z.AnyZodObject; file: { name: string; description: string }; maxBytes: number };

export interface HttpRoute {
  method: HttpMethod;
  /** OpenAPI path template: `/api/jobs/{namespace}/{name}` (the folder app/api/jobs/[namespace]/[name]). */
  path: string;
  summary: string;
  /** 'session': the `mei_session` cookie is required (401 without); 'none': open to anyone. */
  auth: 'session' | 'none';
  /** Refuses a cross-site Origin with 403 (CSRF backup for the SameSite=Lax cookie; docs/security.md). */
  sameOrigin: boolean;
  params?: z.ZodTypeAny;
  query?: z.ZodTypeAny;
  body?: HttpBodySpec;
  responses: Record<number, HttpResponseSpec>;
}

/** Largest JSON body of job creation (a job spec is a few KB; 64 cameras with ROIs stay far below this). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Room for the other form fields and multipart framing beside the query image. */
const FORM_OVERHEAD = 64 * 1024;

const err = (description: string): HttpResponseSpec => ({ description, schema: ApiErrorSchema });
const e400 = err('A parameter or the body is malformed; `field` names it.');
const e401 = err('Not signed in.');
const e403 = err('Cross-site request, or a namespace the user may not access (`field` names it).');
const e404 = err('Not found (also for tracks of namespaces the user may not see).');
const e503 = err('The server or its history store is starting (Retry-After).');
const sessionErrors = { 401: e401, 503: e503 };
const jobKeyErrors = { 400: e400, ...sessionErrors, 403: e403 };

const route = <R extends HttpRoute>(r: R) => r;

/**
 * Every HTTP route of the dashboard API, named as the handlers in server/http are. app/api/**\/route.ts
 * binds each handler; a test checks that the folders and this table list the same methods and paths.
 */
export const httpRoutes = {
  health: route({
    method: 'GET', path: '/api/health', summary: "Readiness of this replica (the leader with its controllers running, or a standby); ?live: liveness only.", auth: 'none', sameOrigin: false,
    query: HealthQuerySchema,
    responses: { 200: { description: 'Ready (or ?live).', schema: HealthSchema }, 400: e400, 503: { description: 'Not ready.', schema: HealthSchema } },
  }),
  login: route({
    method: 'POST', path: '/api/auth/login', summary: 'Sign in; sets the session cookie.', auth: 'none', sameOrigin: true,
    body: { type: 'application/json', schema: LoginRequestSchema, maxBytes: 4096 },
    responses: { 200: { description: 'Signed in (Set-Cookie: mei_session).', schema: MeSchema }, 400: e400, 401: err('Wrong username or password.'), 403: e403, 413: err('Body too large.'), 429: err('Too many failed logins (Retry-After).'), 503: e503 },
  }),
  logout: route({
    method: 'POST', path: '/api/auth/logout', summary: 'End the session (server-side).', auth: 'none', sameOrigin: true,
    responses: { 204: { description: 'Signed out; the cookie is cleared.' }, 403: e403, 503: e503 },
  }),
  me: route({
    method: 'GET', path: '/api/auth/me', summary: 'The signed-in user.', auth: 'session', sameOrigin: false,
    responses: { 200: { description: 'The user.', schema: MeSchema }, ...sessionErrors },
  }),
  info: route({
    method: 'GET', path: '/api/info', summary: 'Server mode, version and database.', auth: 'session', sameOrigin: false,
    responses: { 200: { description: 'Server info.', schema: ServerInfoSchema }, ...sessionErrors },
  }),
  schema: route({
    method: 'GET', path: '/api/schema', summary: "The CRD's openAPIV3Schema (the browser form validates with it).", auth: 'session', sameOrigin: false,
    responses: { 200: { description: 'A JSON schema.', schema: JsonObjectSchema }, ...sessionErrors },
  }),
  openapi: route({
    method: 'GET', path: '/api/openapi.json', summary: 'This document: the HTTP API as OpenAPI 3.0, generated from the schemas that the handlers parse with.', auth: 'session', sameOrigin: false,
    responses: { 200: { description: 'An OpenAPI 3.0 document.', schema: JsonObjectSchema }, ...sessionErrors },
  }),
  listJobs: route({
    method: 'GET', path: '/api/jobs', summary: "Jobs of the user's namespaces (or of one).", auth: 'session', sameOrigin: false,
    query: JobListQuerySchema,
    responses: { 200: { description: 'The jobs.', schema: JobListSchema }, 400: e400, ...sessionErrors, 403: e403 },
  }),
  createJob: route({
    method: 'POST', path: '/api/jobs', summary: 'Create a job (validated as kube-apiserver validates the CRD, then the admission policy).', auth: 'session', sameOrigin: true,
    body: { type: 'application/json', schema: JobInputSchema, maxBytes: MAX_BODY_BYTES },
    responses: {
      201: { description: 'Created.', schema: JobSchema }, 400: e400, ...sessionErrors, 403: e403, 409: err('A job of that name exists.'), 413: err('Body too large.'),
      422: { description: 'The job is invalid; `errors` lists every field.', schema: ValidationFailureSchema },
    },
  }),
  getJob: route({
    method: 'GET', path: '/api/jobs/{namespace}/{name}', summary: 'One job.', auth: 'session', sameOrigin: false,
    params: JobParamsSchema,
    responses: { 200: { description: 'The job.', schema: JobSchema }, 400: e400, ...sessionErrors, 403: e403, 404: e404 },
  }),
  deleteJob: route({
    method: 'DELETE', path: '/api/jobs/{namespace}/{name}', summary: 'Delete a job (its workers stop).', auth: 'session', sameOrigin: true,
    params: JobParamsSchema,
    responses: { 202: { description: 'Deletion accepted.' }, 400: e400, ...sessionErrors, 403: e403, 404: e404 },
  }),
  jobSeries: route({
    method: 'GET', path: '/api/jobs/{namespace}/{name}/series', summary: "The last minutes of each camera of a job (fps, people, live latency), for the job page's charts.", auth: 'session', sameOrigin: false,
    params: JobParamsSchema,
    responses: { 200: { description: 'The series.', schema: JobSeriesSchema }, 400: e400, ...sessionErrors, 403: e403, 404: e404 },
  }),
  searchImage: route({
    method: 'POST', path: '/api/search/image', summary: 'Person search by an image: the tracks of the people nearest to it.', auth: 'session', sameOrigin: true,
    body: {
      type: 'multipart/form-data', schema: ImageSearchFormSchema, fields: ImageSearchFormSchema.innerType(), maxBytes: MAX_QUERY_IMAGE_BYTES + FORM_OVERHEAD,
      file: { name: IMAGE_FIELD, description: `A JPEG or PNG of at most ${MAX_QUERY_IMAGE_BYTES} bytes, 16..4096 pixels a side.` },
    },
    responses: {
      200: { description: 'The identities found, nearest first.', schema: PersonSearchResponseSchema }, ...jobKeyErrors, 404: e404,
      413: err('The upload is too large (field image).'), 415: err('Not multipart/form-data (field image).'), 422: err('No usable image, or no person in it with detect (field image).'),
    },
  }),
  searchTrack: route({
    method: 'POST', path: '/api/search/track', summary: 'Find this person: the stored track\'s embeddings are the query.', auth: 'session', sameOrigin: true,
    body: { type: 'application/json', schema: FindTrackRequestSchema, maxBytes: 16 * 1024 },
    responses: { 200: { description: 'The identities found, nearest first.', schema: PersonSearchResponseSchema }, ...jobKeyErrors, 404: e404, 413: err('Body too large.') },
  }),
  listTracks: route({
    method: 'GET', path: '/api/search/tracks', summary: 'Stored tracks of a job, newest first, a page at a time.', auth: 'session', sameOrigin: false,
    query: TrackListQuerySchema,
    responses: { 200: { description: 'A page of tracks.', schema: TrackListSchema }, ...jobKeyErrors },
  }),
  tracksPerHour: route({
    method: 'GET', path: '/api/search/hourly', summary: "Tracks started per hour and camera (the history page's chart).", auth: 'session', sameOrigin: false,
    query: JobQuerySchema,
    responses: { 200: { description: 'Hourly counts.', schema: TracksPerHourSchema }, ...jobKeyErrors },
  }),
  getTrack: route({
    method: 'GET', path: '/api/search/tracks/{id}', summary: 'One stored track with its trajectory.', auth: 'session', sameOrigin: false,
    params: TrackParamsSchema,
    responses: { 200: { description: 'The track.', schema: TrackDetailSchema }, 400: e400, ...sessionErrors, 404: e404 },
  }),
  thumbnail: route({
    method: 'GET', path: '/api/search/tracks/{id}/thumbnail', summary: "A stored track's thumbnail.", auth: 'session', sameOrigin: false,
    params: TrackParamsSchema,
    responses: { 200: { description: 'The thumbnail.', type: 'image/jpeg' }, 400: e400, ...sessionErrors, 404: err('No such track, or it has no thumbnail (privacy.preview did not allow one, or it expired).') },
  }),
} as const satisfies Record<string, HttpRoute>;

export type HttpRouteName = keyof typeof httpRoutes;

/** A path template with its `{params}` filled in, each encoded. */
const fill = (template: string, values: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(values[k]));

/** The URL of each route for the UI, from the table (track ids are decimal strings). */
export const apiPaths = {
  login: httpRoutes.login.path,
  logout: httpRoutes.logout.path,
  me: httpRoutes.me.path,
  info: httpRoutes.info.path,
  schema: httpRoutes.schema.path,
  openapi: httpRoutes.openapi.path,
  health: httpRoutes.health.path,
  jobs: httpRoutes.listJobs.path,
  job: (namespace: string, name: string) => fill(httpRoutes.getJob.path, { namespace, name }),
  jobSeries: (namespace: string, name: string) => fill(httpRoutes.jobSeries.path, { namespace, name }),
  searchImage: httpRoutes.searchImage.path,
  searchTrack: httpRoutes.searchTrack.path,
  tracks: httpRoutes.listTracks.path,
  track: (id: string) => fill(httpRoutes.getTrack.path, { id }),
  tracksPerHour: httpRoutes.tracksPerHour.path,
  trackThumbnail: (id: string) => fill(httpRoutes.thumbnail.path, { id }),
} as const;

// ---- refusals -------------------------------------------------------------------------------------------

/** The field a zod issue is about (`cameras[0]`, `metadata.name`), or undefined for the whole body. */
function issueField(issue: z.ZodIssue): string | undefined {
  if (issue.code === 'unrecognized_keys') return [...issue.path, issue.keys[0]].join('.');
  if (!issue.path.length) return undefined;
  return issue.path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

/**
 * The first problem of a failed parse as an error naming its field: `{ error: 'limit: Number must be less
 * than or equal to 100', field: 'limit' }`. `what` is the kind of input ('body', 'query', 'path').
 */
export function describeIssue(error: z.ZodError, what: string, schema?: z.ZodTypeAny): ApiError {
  const issue = error.issues[0];
  const field = issueField(issue);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const renamed = issue.path.length === 0 ? RENAMED_PARAMETERS[key] : undefined;
    const known = shapeKeys(schema);
    const message = renamed ? `renamed: the parameter is called ${renamed}` : `not a parameter of this ${what}${known ? ` (known: ${known.join(', ')})` : ''}`;
    return { error: `${field}: ${message}`, field };
  }
  if (field === undefined) {
    const keys = shapeKeys(schema);
    return { error: `${what}: ${issue.code === 'invalid_type' ? `must be a JSON object${keys ? ` {${keys.join(', ')}}` : ''}` : issue.message}` };
  }
  return { error: `${field}: ${issue.message}`, field };
}

/** The keys of an object schema (through refinements), for messages. */
export function shapeKeys(schema: z.ZodTypeAny | undefined): string[] | undefined {
  let s: z.ZodTypeAny | undefined = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : undefined;
}
