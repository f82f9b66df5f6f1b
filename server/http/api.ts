// The dashboard API (contracts/api.ts) as plain Web Request -> Response functions. The files under app/api
// only bind these to Next routes, so the logic is testable without Next and lives in one place.
import {
  DEFAULT_NAMESPACE,
  ValidationError,
  validateObjectName,
  type LoginRequest,
  type Me,
  type ValidationFailure,
} from '@mei/contracts';
import { AlreadyExistsError, NotFoundError } from '../backends/types.ts';
import { canAccessNamespace } from '../auth/users.ts';
import { CLIENT_IP_HEADER, CLIENT_PROTO_HEADER, currentContext, type ApiContext } from './context.ts';
import { isCrossSite } from './origin.ts';
import { admitUserJob, admissionPolicyFromEnv } from '../admission/user-job.ts';
import { HttpError, apiError, json, readJsonBody } from './respond.ts';

type Params = Record<string, string>;
type Handler = (req: Request, ctx: ApiContext, params: Params) => Promise<Response>;
export type RouteHandler = (req: Request, route?: { params?: Promise<Params> }) => Promise<Response>;

/** Binds a handler to the running control plane and turns unexpected errors into a logged 500. */
export function route(handler: Handler): RouteHandler {
  return async (req, routeCtx) => {
    const ctx = currentContext();
    if (!ctx) return apiError(503, 'server is starting', undefined, { 'retry-after': '1' });
    try {
      return await handler(req, ctx, (await routeCtx?.params) ?? {});
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

function pathParams(params: Params): { namespace: string; name: string } {
  const { namespace = '', name = '' } = params;
  for (const [field, value] of [['namespace', namespace], ['name', name]] as const) {
    const errs = validateObjectName(value, field);
    if (errs.length) throw new HttpError(apiError(400, errs[0].message, field));
  }
  return { namespace, name };
}

/** The client reached us over HTTPS (server/main.ts sets the header from the connection or a trusted proxy). */
const overHttps = (req: Request) => req.headers.get(CLIENT_PROTO_HEADER) === 'https' || new URL(req.url).protocol === 'https:';

const DEFAULT_ADMISSION = admissionPolicyFromEnv({});

const jobNotFound = (namespace: string, name: string) => apiError(404, `job ${namespace}/${name} not found`);

export const handlers = {
  // Readiness (Kubernetes: leader with its controllers running, or a standby); `?live` only asks whether the
  // process serves (the liveness probe: a leader stepping down must not be restarted for it).
  health: route(async (req, ctx) => {
    const h = ctx.health?.() ?? { ready: true, role: 'single' };
    const live = new URL(req.url).searchParams.has('live');
    return json({ status: h.ready ? 'ok' : 'unavailable', role: h.role, ...(h.message ? { message: h.message } : {}) }, h.ready || live ? 200 : 503);
  }),

  login: route(async (req, ctx) => {
    requireSameOrigin(req);
    const ip = req.headers.get(CLIENT_IP_HEADER) ?? 'unknown';
    const tooMany = (wait: number) => apiError(429, `too many failed logins; try again in ${wait}s`, undefined, { 'retry-after': String(wait) });
    const early = ctx.loginLimiter.retryAfterSeconds(ip);
    if (early > 0) return tooMany(early);
    const body = await readJsonBody(req, 4096);
    if (!body || typeof body !== 'object' || Array.isArray(body)) return apiError(400, 'body must be a JSON object {username, password}');
    const { username, password } = body as Partial<LoginRequest>;
    if (typeof username !== 'string' || username === '' || username.length > 256) return apiError(400, 'username: a non-empty string is required', 'username');
    if (typeof password !== 'string' || password.length > 1024) return apiError(400, 'password: a string is required', 'password');
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

  logout: route(async (req, ctx) => {
    requireSameOrigin(req);
    const cookie = ctx.sessions.revoke(ctx.sessions.fromCookieHeader(req.headers.get('cookie')), overHttps(req));
    // Answered once the logout is stored: a restart right after must not bring the session back.
    await ctx.sessions.flushed();
    return new Response(null, { status: 204, headers: { 'set-cookie': cookie } });
  }),

  me: route(async (req, ctx) => json(requireUser(req, ctx))),

  info: route(async (req, ctx) => {
    requireUser(req, ctx);
    return json(ctx.info);
  }),

  schema: route(async (req, ctx) => {
    requireUser(req, ctx);
    return json(ctx.jobSchema, 200, { 'cache-control': 'private, max-age=60' });
  }),

  listJobs: route(async (req, ctx) => {
    const me = requireUser(req, ctx);
    const namespace = new URL(req.url).searchParams.get('namespace');
    if (namespace !== null) {
      const errs = validateObjectName(namespace, 'namespace');
      if (errs.length) return apiError(400, errs[0].message, 'namespace');
      requireNamespace(me, namespace);
    }
    const items = (await ctx.backend.list(namespace ?? undefined)).filter((j) => canAccessNamespace(me, j.metadata.namespace));
    return json({ items });
  }),

  createJob: route(async (req, ctx) => {
    requireSameOrigin(req);
    const me = requireUser(req, ctx);
    const body = await readJsonBody(req);
    if (!body || typeof body !== 'object' || Array.isArray(body)) return apiError(400, 'body must be a JSON object (a MultiEdgeInference)');
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
      const job = await ctx.backend.create(body as Parameters<ApiContext['backend']['create']>[0]);
      ctx.log.info(`job ${job.metadata.namespace}/${job.metadata.name} created by ${me.username}`);
      return json(job, 201);
    } catch (err) {
      if (err instanceof ValidationError || (err as Error).name === 'ValidationError') return validationFailure((err as ValidationError).errors);
      if (err instanceof AlreadyExistsError || (err as Error).name === 'AlreadyExistsError') return apiError(409, (err as Error).message, 'metadata.name');
      throw err;
    }
  }),

  getJob: route(async (req, ctx, params) => {
    const me = requireUser(req, ctx);
    const { namespace, name } = pathParams(params);
    requireNamespace(me, namespace);
    const job = await ctx.backend.get(namespace, name);
    return job ? json(job) : jobNotFound(namespace, name);
  }),

  /** The last minutes of each camera of a job (fps, people, live latency), for the job page's charts. */
  jobSeries: route(async (req, ctx, params) => {
    const me = requireUser(req, ctx);
    const { namespace, name } = pathParams(params);
    requireNamespace(me, namespace);
    const job = await ctx.backend.get(namespace, name);
    if (!job) return jobNotFound(namespace, name);
    return json(ctx.series?.get(job) ?? { stepMs: 0, windowMs: 0, cameras: job.spec.cameras.map((c) => ({ name: c.name, samples: [] })) });
  }),

  deleteJob: route(async (req, ctx, params) => {
    requireSameOrigin(req);
    const me = requireUser(req, ctx);
    const { namespace, name } = pathParams(params);
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
