// Operator endpoints served by the custom server before Next: /healthz (the process answers), /readyz (it
// can do its work now: the reasons when not) and /metrics (Prometheus). /metrics is guarded: with
// MEI_METRICS_TOKEN set it needs `Authorization: Bearer <token>`; MEI_METRICS_AUTH=none opens it; otherwise
// only loopback clients may scrape (the default embedded server listens on loopback anyway).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { scrape } from './metrics.ts';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  reason?: string;
}
export interface Readiness {
  ready: boolean;
  checks: ReadinessCheck[];
}

export interface OpsOptions {
  env: Record<string, string | undefined>;
  /** Undefined while the server is starting (not ready, "starting"). */
  readiness(): Promise<Readiness> | undefined;
}

export type MetricsAuth = { kind: 'token'; token: Buffer } | { kind: 'none' } | { kind: 'loopback' };

export function metricsAuth(env: Record<string, string | undefined>): MetricsAuth {
  const mode = env.MEI_METRICS_AUTH;
  if (mode !== undefined && !['token', 'none', 'loopback'].includes(mode)) throw new Error(`MEI_METRICS_AUTH must be "token", "none" or "loopback", got "${mode}"`);
  const token = env.MEI_METRICS_TOKEN;
  if (mode === 'none') return { kind: 'none' };
  if (token !== undefined || mode === 'token') {
    if (!token || token.length < 16) throw new Error('MEI_METRICS_TOKEN must be at least 16 characters');
    return { kind: 'token', token: Buffer.from(token) };
  }
  return { kind: 'loopback' };
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

function allowed(auth: MetricsAuth, req: IncomingMessage): boolean {
  if (auth.kind === 'none') return true;
  if (auth.kind === 'loopback') return LOOPBACK.test(req.socket.remoteAddress ?? '');
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]);
  return given.length === auth.token.length && timingSafeEqual(given, auth.token);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/** Returns a handler that answers the operator paths and returns false for every other request. */
export function opsHandler(o: OpsOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const auth = metricsAuth(o.env);
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return true;
    }
    if (path === '/readyz') {
      const r = o.readiness();
      if (!r) json(res, 503, { ready: false, checks: [{ name: 'startup', ok: false, reason: 'server is starting' }] });
      else r.then((v) => json(res, v.ready ? 200 : 503, v), (err) => json(res, 503, { ready: false, checks: [{ name: 'readiness', ok: false, reason: (err as Error).message }] }));
      return true;
    }
    if (path === '/metrics') {
      if (!allowed(auth, req)) {
        res.writeHead(auth.kind === 'token' ? 401 : 403, { 'content-type': 'text/plain', ...(auth.kind === 'token' ? { 'www-authenticate': 'Bearer' } : {}) });
        res.end(auth.kind === 'token' ? 'metrics need a bearer token (MEI_METRICS_TOKEN)\n' : 'metrics are served to loopback clients only (set MEI_METRICS_TOKEN or MEI_METRICS_AUTH=none)\n');
        return true;
      }
      scrape().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return true;
    }
    return false;
  };
}

/** Runs named checks with a ceiling each (a hung database is "not ready", not a hung probe). */
export async function runChecks(checks: Array<{ name: string; run(): Promise<string | undefined> | string | undefined }>, timeoutMs = 2_000): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async ({ name, run }): Promise<ReadinessCheck> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const reason = await Promise.race([
          Promise.resolve(run()),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
          }),
        ]);
        return reason ? { name, ok: false, reason } : { name, ok: true };
      } catch (err) {
        return { name, ok: false, reason: (err as Error).message };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every((c) => c.ok), checks: results };
}
