// Small HTTP helpers for the route handlers: JSON responses, size-limited JSON bodies, and parsing with the
// schemas of @mei/contracts/http into a 400 that names the field.
import type { ZodTypeAny, output } from 'zod';
import { MAX_BODY_BYTES, describeIssue, type ApiError } from '@mei/contracts';

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

export const apiError = (status: number, error: string, field?: string, headers?: Record<string, string>) =>
  json(field === undefined ? ({ error } satisfies ApiError) : ({ error, field } satisfies ApiError), status, headers);

/** A request that must be answered with `response` (bad body, too large, ...). */
export class HttpError extends Error {
  constructor(readonly response: Response) {
    super(`HTTP ${response.status}`);
  }
}

/**
 * Reads the whole body, refusing (`tooBig()`, thrown) a declared or actual size over `limit` without
 * buffering more than that.
 */
export async function readBodyBytes(req: Request, limit: number, tooBig: () => Error): Promise<Buffer> {
  const declared = Number(req.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooBig();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks, size);
}

/** Parses the JSON body; 400 naming the problem (content type, empty, syntax), 413 when over `limit`. */
export async function readJsonBody(req: Request, limit = MAX_BODY_BYTES): Promise<unknown> {
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(apiError(400, `Content-Type must be application/json (got ${type ? `"${type.slice(0, 100)}"` : 'none'})`));
  const body = await readBodyBytes(req, limit, () => new HttpError(apiError(413, `request body is larger than ${limit} bytes`)));
  const text = body.toString('utf8');
  if (text.trim() === '') throw new HttpError(apiError(400, 'request body is empty (expected JSON)'));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(apiError(400, `request body is not valid JSON: ${(err as Error).message}`));
  }
}

/** `value` parsed by `schema`, or a 400 naming the first field at fault (`what`: 'body', 'query', 'path'). */
export function parseWith<S extends ZodTypeAny>(schema: S, value: unknown, what: string): output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const e = describeIssue(r.error, what, schema);
  throw new HttpError(apiError(400, e.error, e.field));
}

/** A query string as an object: a repeated parameter becomes a list (the schema says whether it may be one). */
export function queryObject(url: string): Record<string, string | string[]> {
  const q = new URL(url).searchParams;
  const out: Record<string, string | string[]> = Object.create(null); // `__proto__` stays a key (refused as unknown)
  for (const k of new Set(q.keys())) {
    const all = q.getAll(k);
    out[k] = all.length === 1 ? all[0] : all;
  }
  return out;
}
