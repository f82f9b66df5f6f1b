// History and person search API (contracts/api.ts: searchImage, searchTrack, tracks, track, trackThumbnail)
// as Web Request -> Response functions, bound by app/api/search/**. Same rules as api.ts: a session, the
// user's namespaces, same-origin writes, errors naming the field. The work runs in the history service of
// the server process (published on globalThis); this file stays free of native modules because Next bundles it.
import {
  MAX_QUERY_IMAGE_BYTES,
  parseJobKey,
  validateObjectName,
  type FindTrackRequest,
  type Me,
  type MultiEdgeInference,
  type SearchFilters,
  type StoredTrack,
} from '@mei/contracts';
import type { ApiContext } from './context.ts';
import { HttpError, apiError, json, readBodyBytes, readJsonBody } from './respond.ts';
import { requireNamespace, requireSameOrigin, requireUser, route } from './api.ts';
import { currentHistory } from '../history/context.ts';
import type { HistoryApi } from '../history/api-types.ts';
import { isTrackId } from '../history/store.ts';
import { ImageError, checkImage } from '../history/person-search/image-check.ts';
import { MAX_LIMIT } from '../history/person-search/search-limits.ts';

/** Room for the other form fields and multipart framing beside the image. */
const FORM_OVERHEAD = 64 * 1024;
const MAX_TRACKS_PAGE = 500;

const bad = (status: number, field: string, message: string) => new HttpError(apiError(status, `${field}: ${message}`, field));

function history(): HistoryApi {
  const h = currentHistory();
  if (!h) throw new HttpError(apiError(503, 'the history store is not running on this server', undefined, { 'retry-after': '5' }));
  return h;
}

/** A job key field (<namespace>/<name>) the user may access. */
function jobKeyField(value: unknown, me: Me, field = 'job'): { namespace: string; name: string; key: string } {
  if (typeof value !== 'string' || !value) throw bad(400, field, 'required: <namespace>/<name> of a job');
  let parsed: { namespace: string; name: string };
  try {
    parsed = parseJobKey(value);
  } catch (e) {
    throw bad(400, field, (e as Error).message);
  }
  for (const [part, v] of [['namespace', parsed.namespace], ['name', parsed.name]] as const) {
    const errs = validateObjectName(v, part);
    if (errs.length) throw bad(400, field, `${part}: ${errs[0].message}`);
  }
  requireNamespace(me, parsed.namespace, field);
  return { ...parsed, key: value };
}

function numberField(v: unknown, field: string, o: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n) || (o.integer && !Number.isInteger(n))) throw bad(400, field, `must be ${o.integer ? 'an integer' : 'a number'} (got ${JSON.stringify(v).slice(0, 40)})`);
  if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) throw bad(400, field, `must be in ${o.min ?? '-∞'}..${o.max ?? '∞'} (got ${n})`);
  return n;
}

/** cameras as a list, or one comma-separated string (form fields and query strings). */
function camerasField(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!list || list.some((c) => typeof c !== 'string')) throw bad(400, 'cameras', 'must be a list of camera names');
  const names = list.map((c: string) => c.trim()).filter(Boolean);
  for (const c of names) if (c.length > 63) throw bad(400, 'cameras', `camera name "${c.slice(0, 20)}…" is longer than 63 characters`);
  return names.length ? names : undefined;
}

/** cameras, from, to and (searches only: track lists page with their own limit) limit. */
function filters(get: (k: string) => unknown, withLimit = true): SearchFilters {
  const fromMs = numberField(get('fromMs') ?? get('from'), 'from');
  const toMs = numberField(get('toMs') ?? get('to'), 'to');
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw bad(400, 'from', `is after to (${fromMs} > ${toMs})`);
  return { cameras: camerasField(get('cameras') ?? get('camera')), fromMs, toMs, limit: withLimit ? numberField(get('limit'), 'limit', { integer: true, min: 1, max: MAX_LIMIT }) : undefined };
}

async function existingJob(ctx: ApiContext, j: { namespace: string; name: string; key: string }, field = 'job'): Promise<MultiEdgeInference> {
  const job = await ctx.backend.get(j.namespace, j.name);
  if (!job) throw bad(404, field, `job ${j.key} not found`);
  return job;
}

/** Reads the whole body up to `limit` bytes; 413 naming `field` beyond it. */
async function readBody(req: Request, limit: number, field: string): Promise<Uint8Array<ArrayBuffer>> {
  const body = await readBodyBytes(req, limit, () => bad(413, field, `the upload is larger than ${MAX_QUERY_IMAGE_BYTES} bytes (5 MB)`));
  return new Uint8Array(body); // a copy on its own ArrayBuffer, as the image decoders expect
}

async function trackOr404(h: HistoryApi, id: unknown, me: Me, field = 'id'): Promise<StoredTrack> {
  if (!isTrackId(id)) throw bad(400, field, 'must be a track id (a positive integer)');
  const track = await h.getTrack(id);
  // Tracks of namespaces the user may not see are reported as absent, not forbidden.
  if (!track || !canSee(me, track)) throw bad(404, field, `track ${id} not found`);
  return track;
}

function canSee(me: Me, track: StoredTrack): boolean {
  try {
    requireNamespace(me, parseJobKey(track.jobKey).namespace);
    return true;
  } catch {
    return false;
  }
}

function imageErrorResponse(err: unknown): Response | undefined {
  if (err instanceof ImageError || (err as Error)?.name === 'ImageError') {
    const e = err as ImageError;
    return apiError(e.status, e.message, e.field);
  }
  return undefined;
}

export const searchHandlers = {
  /** POST multipart/form-data: image + job (+ cameras, from, to, limit, detect). */
  searchImage: route(async (req, ctx) => {
    requireSameOrigin(req);
    const me = requireUser(req, ctx);
    const type = req.headers.get('content-type') ?? '';
    if (!/^multipart\/form-data\s*;/i.test(type))
      throw bad(415, 'image', `send multipart/form-data with an "image" file field (got ${type ? `"${type.slice(0, 60)}"` : 'no content type'})`);
    const body = await readBody(req, MAX_QUERY_IMAGE_BYTES + FORM_OVERHEAD, 'image');
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'content-type': type } }).formData();
    } catch (e) {
      throw bad(400, 'image', `the multipart body cannot be parsed: ${(e as Error).message}`);
    }
    const file = form.get('image');
    if (!file || typeof file === 'string') throw bad(422, 'image', 'required: a JPEG or PNG file in the "image" field');
    const job = jobKeyField(form.get('job'), me);
    const scope = { jobKey: job.key, ...filters((k) => form.get(k) ?? undefined) };
    const detectRaw = form.get('detect');
    if (detectRaw !== null && !['true', 'false', '1', '0', ''].includes(String(detectRaw))) throw bad(400, 'detect', 'must be true or false');
    const detect = detectRaw === 'true' || detectRaw === '1';
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      const image = checkImage(bytes, file.type);
      const spec = (await existingJob(ctx, job)).spec;
      return json(await history().searchImage(spec.models, image, detect, scope));
    } catch (err) {
      const r = imageErrorResponse(err);
      if (r) return r;
      throw err;
    }
  }),

  /** POST FindTrackRequest: "find this person" from a stored track. */
  searchTrack: route(async (req, ctx) => {
    requireSameOrigin(req);
    const me = requireUser(req, ctx);
    const body = (await readJsonBody(req, 16 * 1024)) as Partial<FindTrackRequest> | null;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad(400, 'trackId', 'body must be a JSON object {trackId, job?, cameras?, fromMs?, toMs?, limit?}');
    const h = history();
    const track = await trackOr404(h, body.trackId, me, 'trackId');
    const jobKey = body.job === undefined ? track.jobKey : jobKeyField(body.job, me).key;
    const scope = { jobKey, ...filters((k) => (body as Record<string, unknown>)[k]) };
    return json(await h.searchTrack(track, scope));
  }),

  /** GET ?job=&camera=&from=&to=&limit=&before= */
  listTracks: route(async (req, ctx) => {
    const me = requireUser(req, ctx);
    const q = new URL(req.url).searchParams;
    const job = jobKeyField(q.get('job'), me);
    const f = filters((k) => (k === 'cameras' || k === 'camera' ? q.getAll(k).join(',') || undefined : (q.get(k) ?? undefined)), false);
    const before = q.get('before') ?? undefined;
    if (before !== undefined && !isTrackId(before)) throw bad(400, 'before', 'must be a track id');
    const limit = numberField(q.get('limit') ?? undefined, 'limit', { integer: true, min: 1, max: MAX_TRACKS_PAGE }) ?? 100;
    return json(await history().listTracks({ jobKey: job.key, cameras: f.cameras, fromMs: f.fromMs, toMs: f.toMs, limit, before }));
  }),

  /** GET ?job= : tracks started per hour and camera (the history page's chart). */
  tracksPerHour: route(async (req, ctx) => {
    const me = requireUser(req, ctx);
    const job = jobKeyField(new URL(req.url).searchParams.get('job'), me);
    return json({ jobKey: job.key, buckets: await history().tracksPerHour(job.key) });
  }),

  getTrack: route(async (req, ctx, params) => {
    const me = requireUser(req, ctx);
    const h = history();
    const track = await trackOr404(h, params.id, me);
    const detail = await h.trackDetail(track.id);
    return detail ? json(detail) : apiError(404, `id: track ${track.id} not found`, 'id');
  }),

  thumbnail: route(async (req, ctx, params) => {
    const me = requireUser(req, ctx);
    const h = history();
    const track = await trackOr404(h, params.id, me);
    const t = await h.thumbnail(track.id);
    if (!t) return apiError(404, `id: track ${track.id} has no thumbnail (privacy.preview did not allow one, or it expired)`, 'id');
    return new Response(Buffer.from(t.jpeg), { status: 200, headers: { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=300' } });
  }),
};
