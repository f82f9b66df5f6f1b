// The dashboard API (contracts/http.ts) as plain Web Request -> Response functions. The files under app/api
// only bind these to Next routes, so the logic is testable without Next and lives in one place. Each handler
// is named as its row of the route table (httpRoutes), which says its auth, same-origin rule and schemas:
// route() applies them, in that order, before the handler runs.
import type { z } from 'zod';
import {
  DEFAULT_NAMESPACE,
  ValidationError,
  httpRoutes,
  validateObjectName,
  type HttpRoute,
  type HttpRouteName,
  type Me,
  type ValidationFailure,
} from '@mei/contracts';
import { openApiDocument } from '@mei/contracts/openapi';
import { AlreadyExistsError, NotFoundError } from '../backends/types.ts';
import { canAccessNamespace } from '../auth/users.ts';
import { CLIENT_IP_HEADER, CLIENT_PROTO_HEADER, currentContext, type ApiContext } from './context.ts';
import { isCrossSite } from './origin.ts';
import { admitUserJob, admissionPolicyFromEnv } from '../admission/user-job.ts';
import { HttpError, apiError, json, parseWith, queryObject, readJsonBody } from './respond.ts';

type Params = Record<string, string>;
export type RouteHandler = (req: Request, route?: { params?: Promise<Params> }) => Promise<Response>;

type Parsed<S> = S extends z.ZodTypeAny ? z.output<S> : Record<string, never>;
/** What route() hands a handler: the user (routes with a session), parsed path and query, the body on demand. */
export interface RouteInput<R extends HttpRoute> {
  me: R['auth'] extends 'session' ? Me : undefined;
  params: Parsed<R['params']>;
  query: Parsed<R['query']>;
  /** The JSON body parsed by the route's schema (read only when called: login counts the attempt first). */
  body(): Promise<R['body'] extends { type: 'application/json'; schema: infer S } ? Parsed<S> : never>;
}
type Handler<R extends HttpRoute> = (req: Request, ctx: ApiContext, input: RouteInput<R>) => Promise<Response>;

/**
 * Binds the handler of route `name` to the running control plane: refuses a cross-site write (403), a
 * missing session (401), then malformed path parameters and query (400 naming the field), and turns
 * unexpected errors into a logged 500.
 */
export function route<N extends HttpRouteName>(name: N, handler: Handler<(typeof httpRoutes)[N]>): RouteHandler {
  const spec: HttpRoute = httpRoutes[name];
  return async (req, routeCtx) => {
    const ctx = currentContext();
    if (!ctx) return apiError(503, 'server is starting', undefined, { 'retry-after': '1' });
    try {
      if (spec.sameOrigin) requireSameOrigin(req);
      const me = spec.auth === 'session' ? requireUser(req, ctx) : undefined;
      const params = spec.params ? parseWith(spec.params, (await routeCtx?.params) ?? {}, 'path') : {};
      const query = spec.query ? parseWith(spec.query, queryObject(req.url), 'query') : {};
      const body = async () => {
        if (spec.body?.type !== 'application/json') throw new Error(`${name} takes no JSON body`);
        return parseWith(spec.body.schema, await readJsonBody(req, spec.body.maxBytes), 'body');
      };
      return await handler(req, ctx, { me, params, query, body } as RouteInput<(typeof httpRoutes)[N]>);
    } catch (err) {
      if (err instanceof HttpError) return err.response;
      ctx.log.error(`${req.method} ${new URL(req.url).pathname} failed:`, err);
      return apiError(500, 'internal server error');
    }
  };
}

/** The signed-in user, or throws a 401. */
export function requireUser(req: Request, ctx: ApiContext): Me {
  const me = ctx.sessions.verify(ctx.sessions.fromCookieHeader(req.headers.get('cookie')));
  if (!me) throw new HttpError(apiError(401, 'not signed in'));
  return me;
}

export function requireNamespace(me: Me, namespace: string, field = 'namespace'): void {
  if (!canAccessNamespace(me, namespace)) throw new HttpError(apiError(403, `user "${me.username}" may not access namespace "${namespace}"`, field));
}

export function requireSameOrigin(req: Request): void {
  if (isCrossSite(req.headers.get('origin'), req.headers.get('host'))) throw new HttpError(apiError(403, 'cross-site request refused'));
}

/** The client reached us over HTTPS (server/main.ts sets the header from the connection or a trusted proxy). */
const overHttps = (req: Request) => req.headers.get(CLIENT_PROTO_HEADER) === 'https' || new URL(req.url).protocol === 'https:';

const DEFAULT_ADMISSION = admissionPolicyFromEnv({});

const jobNotFound = (namespace: string, name: string) => apiError(404, `job ${namespace}/${name} not found`);

export const handlers = {
  // Readiness (Kubernetes: leader with its controllers running, or a standby); `?live` only asks whether the
  // process serves (the liveness probe: a leader stepping down must not be restarted for it).
  health: route('health', async (_req, ctx, { query }) => {
    const h = ctx.health?.() ?? { ready: true, role: 'single' };
    return json({ status: h.ready ? 'ok' : 'unavailable', role: h.role, ...(h.message ? { message: h.message } : {}) }, h.ready || query.live !== undefined ? 200 : 503);
  }),

  login: route('login', async (req, ctx, input) => {
    const ip = req.headers.get(CLIENT_IP_HEADER) ?? 'unknown';
    const tooMany = (wait: number) => apiError(429, `too many failed logins; try again in ${wait}s`, undefined, { 'retry-after': String(wait) });
    const early = ctx.loginLimiter.retryAfterSeconds(ip);
    if (early > 0) return tooMany(early);
    const { username, password } = await input.body();
    // Counted before the hash runs: a parallel burst sees its own attempts in flight.
    const wait = ctx.loginLimiter.begin(ip, username);
    if (wait > 0) return tooMany(wait);
    let me: Me | undefined;
    try {
      me = await ctx.users.authenticate(username, password);
    } catch (err) {
      ctx.loginLimiter.fail(ip, username);
      throw err;
    }
    if (!me) {
      ctx.loginLimiter.fail(ip, username);
      return apiError(401, 'invalid username or password');
    }
    ctx.loginLimiter.succeed(ip, username);
    return json(me, 200, { 'set-cookie': ctx.sessions.create(me.username, overHttps(req)) });
  }),

  logout: route('logout', async (req, ctx) => {
    const cookie = ctx.sessions.revoke(ctx.sessions.fromCookieHeader(req.headers.get('cookie')), overHttps(req));
    // Answered once the logout is stored: a restart right after must not bring the session back.
    await ctx.sessions.flushed();
    return new Response(null, { status: 204, headers: { 'set-cookie': cookie } });
  }),

  me: route('me', async (_req, _ctx, { me }) => json(me)),

  info: route('info', async (_req, ctx) => json(ctx.info)),

  schema: route('schema', async (_req, ctx) => json(ctx.jobSchema, 200, { 'cache-control': 'private, max-age=60' })),

  /** This API as an OpenAPI 3.0 document, generated from the same table and schemas route() enforces. */
  openapi: route('openapi', async (_req, ctx) => json(openApiDocument({ version: ctx.info.version, jobSchema: ctx.jobSchema }), 200, { 'cache-control': 'private, max-age=60' })),

  listJobs: route('listJobs', async (_req, ctx, { me, query: { namespace } }) => {
    if (namespace !== undefined) requireNamespace(me, namespace);
    const items = (await ctx.backend.list(namespace)).filter((j) => canAccessNamespace(me, j.metadata.namespace));
    return json({ items });
  }),

  createJob: route('createJob', async (_req, ctx, { me, body: readBody }) => {
    const body = await readBody();
    const input = body as { metadata?: unknown };
    if (!input.metadata || typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
      return validationFailure([{ field: 'metadata', reason: 'FieldValueRequired', message: 'Required value: metadata with a name is required' }]);
    }
    const metadata = input.metadata as { namespace?: unknown; name?: unknown };
    metadata.namespace ??= DEFAULT_NAMESPACE;
    const nsErrors = [...validateObjectName(metadata.namespace, 'metadata.namespace'), ...validateObjectName(metadata.name)];
    if (nsErrors.length) return validationFailure(nsErrors);
    requireNamespace(me, metadata.namespace as string, 'metadata.namespace');
    const refused = admitUserJob(input as { metadata?: unknown; spec?: unknown }, metadata.namespace as string, ctx.admission ?? DEFAULT_ADMISSION);
    if (refused.length) return validationFailure(refused);
    try {
      const job = await ctx.backend.create(body as unknown as Parameters<ApiContext['backend']['create']>[0]);
      ctx.log.info(`job ${job.metadata.namespace}/${job.metadata.name} created by ${me.username}`);
      return json(job, 201);
    } catch (err) {
      if (err instanceof ValidationError || (err as Error).name === 'ValidationError') return validationFailure((err as ValidationError).errors);
      if (err instanceof AlreadyExistsError || (err as Error).name === 'AlreadyExistsError') return apiError(409, (err as Error).message, 'metadata.name');
      throw err;
    }
  }),

  getJob: route('getJob', async (_req, ctx, { me, params: { namespace, name } }) => {
    requireNamespace(me, namespace);
    const job = await ctx.backend.get(namespace, name);
    return job ? json(job) : jobNotFound(namespace, name);
  }),

  /** The last minutes of each camera of a job (fps, people, live latency), for the job page's charts. */
  jobSeries: route('jobSeries', async (_req, ctx, { me, params: { namespace, name } }) => {
    requireNamespace(me, namespace);
    const job = await ctx.backend.get(namespace, name);
    if (!job) return jobNotFound(namespace, name);
    return json(ctx.series?.get(job) ?? { stepMs: 0, windowMs: 0, cameras: job.spec.cameras.map((c) => ({ name: c.name, samples: [] })) });
  }),

  deleteJob: route('deleteJob', async (_req, ctx, { me, params: { namespace, name } }) => {
    requireNamespace(me, namespace);
    try {
      await ctx.backend.delete(namespace, name);
    } catch (err) {
      if (err instanceof NotFoundError || (err as Error).name === 'NotFoundError') return jobNotFound(namespace, name);
      throw err;
    }
    ctx.log.info(`job ${namespace}/${name} deleted by ${me.username}`);
    return new Response(null, { status: 202 });
  }),
};

function validationFailure(errors: ValidationFailure['errors']): Response {
  const body: ValidationFailure = { error: `${errors[0]?.field || 'body'}: ${errors[0]?.message ?? 'invalid'}`, field: errors[0]?.field, errors };
  return json(body, 422);
}
