// History and person search API (contracts/http.ts: searchImage, searchTrack, listTracks, tracksPerHour, getTrack, thumbnail)
// as Web Request -> Response functions, bound by app/api/search/**. Same rules as api.ts: a session, the
// user's namespaces, same-origin writes, errors naming the field. The work runs in the history service of
// the server process (published on globalThis); this file stays free of native modules because Next bundles it.
import {
  DEFAULT_TRACKS_PAGE,
  IMAGE_FIELD,
  MAX_QUERY_IMAGE_BYTES,
  httpRoutes,
  parseJobKey,
  type Me,
  type MultiEdgeInference,
  type StoredTrack,
} from '@mei/contracts';
import type { ApiContext } from './context.ts';
import { HttpError, apiError, json, parseWith, readBodyBytes } from './respond.ts';
import { requireNamespace, route } from './api.ts';
import { currentHistory } from '../history/context.ts';
import type { HistoryApi } from '../history/api-types.ts';
import { ImageError, checkImage } from '../history/person-search/image-check.ts';

const bad = (status: number, field: string, message: string) => new HttpError(apiError(status, `${field}: ${message}`, field));

function history(): HistoryApi {
  const h = currentHistory();
  if (!h) throw new HttpError(apiError(503, 'the history store is not running on this server', undefined, { 'retry-after': '5' }));
  return h;
}

/** A job key (<namespace>/<name>, already checked by the route's schema) whose namespace the user may access. */
function jobOf(me: Me, key: string, field = 'job'): { namespace: string; name: string; key: string } {
  const parsed = parseJobKey(key);
  requireNamespace(me, parsed.namespace, field);
  return { ...parsed, key };
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

/** A track (its id checked by the route's schema) the user may see, else 404. */
async function trackOr404(h: HistoryApi, id: string, me: Me, field = 'id'): Promise<StoredTrack> {
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

/** The text fields of a multipart form as an object (a repeated field becomes a list), the file left out. */
function formFields(form: FormData, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null); // `__proto__` stays a key (refused as unknown)
  for (const k of new Set(form.keys())) {
    if (k === file) continue;
    const all = form.getAll(k).map((v) => (typeof v === 'string' ? v : `(a file: ${v.name || 'unnamed'})`));
    out[k] = all.length === 1 ? all[0] : all;
  }
  return out;
}

const imageSpec = httpRoutes.searchImage.body;

export const searchHandlers = {
  /** POST multipart/form-data: image + job (+ cameras, fromMs, toMs, limit, detect). */
  searchImage: route('searchImage', async (req, ctx, { me }) => {
    const type = req.headers.get('content-type') ?? '';
    if (!/^multipart\/form-data\s*;/i.test(type))
      throw bad(415, IMAGE_FIELD, `send multipart/form-data with an "image" file field (got ${type ? `"${type.slice(0, 60)}"` : 'no content type'})`);
    const body = await readBody(req, imageSpec.maxBytes, IMAGE_FIELD);
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'content-type': type } }).formData();
    } catch (e) {
      throw bad(400, IMAGE_FIELD, `the multipart body cannot be parsed: ${(e as Error).message}`);
    }
    const file = form.get(IMAGE_FIELD);
    if (!file || typeof file === 'string') throw bad(422, IMAGE_FIELD, 'required: a JPEG or PNG file in the "image" field');
    const { job: jobKey, detect = false, ...filters } = parseWith(imageSpec.schema, formFields(form, IMAGE_FIELD), 'form');
    const job = jobOf(me, jobKey);
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      const image = checkImage(bytes, file.type);
      const spec = (await existingJob(ctx, job)).spec;
      return json(await history().searchImage(spec.models, image, detect, { jobKey: job.key, ...filters }));
    } catch (err) {
      const r = imageErrorResponse(err);
      if (r) return r;
      throw err;
    }
  }),

  /** POST FindTrackRequest: "find this person" from a stored track. */
  searchTrack: route('searchTrack', async (_req, _ctx, { me, body: readJson }) => {
    const { trackId, job, ...filters } = await readJson();
    const h = history();
    const track = await trackOr404(h, trackId, me, 'trackId');
    const jobKey = job === undefined ? track.jobKey : jobOf(me, job).key;
    return json(await h.searchTrack(track, { jobKey, ...filters }));
  }),

  /** GET ?job=&cameras=&fromMs=&toMs=&limit=&before= */
  listTracks: route('listTracks', async (_req, _ctx, { me, query: { job, limit = DEFAULT_TRACKS_PAGE, ...filters } }) => {
    const { key } = jobOf(me, job);
    return json(await history().listTracks({ jobKey: key, ...filters, limit }));
  }),

  /** GET ?job= : tracks started per hour and camera (the history page's chart). */
  tracksPerHour: route('tracksPerHour', async (_req, _ctx, { me, query }) => {
    const { key } = jobOf(me, query.job);
    return json({ jobKey: key, buckets: await history().tracksPerHour(key) });
  }),

  getTrack: route('getTrack', async (_req, _ctx, { me, params }) => {
    const h = history();
    const track = await trackOr404(h, params.id, me);
    const detail = await h.trackDetail(track.id);
    return detail ? json(detail) : apiError(404, `id: track ${track.id} not found`, 'id');
  }),

  thumbnail: route('thumbnail', async (_req, _ctx, { me, params }) => {
    const h = history();
    const track = await trackOr404(h, params.id, me);
    const t = await h.thumbnail(track.id);
    if (!t) return apiError(404, `id: track ${track.id} has no thumbnail (privacy.preview did not allow one, or it expired)`, 'id');
    return new Response(Buffer.from(t.jpeg), { status: 200, headers: { 'content-type': 'image/jpeg', 'cache-control': 'private, max-age=300' } });
  }),
};
