// The HTTP API handlers (server/http/api.ts) on the in-memory fake backend (mock: no database). The same
// handlers behind real Next routes are exercised by test/integration/spine.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobSchema } from '@mei/contracts/crd';
import { LoginRateLimiter } from '../../server/auth/login-limiter.ts';
import { Sessions } from '../../server/auth/sessions.ts';
import { UserDirectory } from '../../server/auth/users.ts';
import { silentLogger } from '../../server/log.ts';
import { handlers } from '../../server/http/api.ts';
import { CLIENT_IP_HEADER, CLIENT_PROTO_HEADER, clientOf, publishContext, type ApiContext } from '../../server/http/context.ts';
import { hashPassword } from '../../server/auth/passwords.ts';
import { MemoryBackend } from '../support/memory-backend.ts';

const BASE = 'http://127.0.0.1:3000';
let ctx: ApiContext;
let adminCookie: string;
let teamCookie: string;

const spec = { cameras: [{ name: 'cam', node: 'edge-1', source: '/v.mp4' }], models: { detector: { decoder: 'yolox' } } };

function req(method: string, path: string, opts: { cookie?: string; body?: unknown; raw?: string; type?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { host: '127.0.0.1:3000', [CLIENT_IP_HEADER]: '10.0.0.1', ...opts.headers };
  if (opts.cookie) headers.cookie = opts.cookie;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  return new Request(BASE + path, { method, headers, body });
}
const params = (namespace: string, name: string) => ({ params: Promise.resolve({ namespace, name }) });

async function login(username: string, password: string) {
  const res = await handlers.login(req('POST', '/api/auth/login', { body: { username, password } }));
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0];
}

beforeAll(async () => {
  const users = new UserDirectory(
    [
      { username: 'admin', namespaces: ['*'], passwordHash: await hashPassword('admin-pw') },
      { username: 'alice', namespaces: ['team-a'], passwordHash: await hashPassword('alice-pw') },
    ],
    await hashPassword('decoy'),
  );
  ctx = {
    info: { mode: 'embedded', version: '0.1.0', database: 'pglite' },
    backend: new MemoryBackend(),
    users,
    sessions: new Sessions(Buffer.alloc(32, 9), users),
    loginLimiter: new LoginRateLimiter(3, 60_000),
    jobSchema: loadJobSchema(),
    log: silentLogger,
  };
  publishContext(ctx);
  adminCookie = await login('admin', 'admin-pw');
  teamCookie = await login('alice', 'alice-pw');
});
afterAll(() => publishContext(undefined));

describe('API handlers (in-memory fake backend)', () => {
  it('health needs no session; everything else answers 401 without one', async () => {
    expect((await handlers.health(req('GET', '/api/health'))).status).toBe(200);
    for (const h of [handlers.me, handlers.info, handlers.schema, handlers.listJobs]) expect((await h(req('GET', '/api/x'))).status).toBe(401);
    expect((await handlers.me(req('GET', '/api/auth/me', { cookie: 'mei_session=forged.value' }))).status).toBe(401);
  });

  it('login: me, info and schema with the cookie; wrong password 401; rate limited per address and per user', async () => {
    expect(await (await handlers.me(req('GET', '/api/auth/me', { cookie: teamCookie }))).json()).toEqual({ username: 'alice', namespaces: ['team-a'] });
    expect(await (await handlers.info(req('GET', '/api/info', { cookie: adminCookie }))).json()).toEqual(ctx.info);
    // The CRD's openAPIV3Schema itself (the browser form validates with it), with its spec's required fields.
    const schema = await handlers.schema(req('GET', '/api/schema', { cookie: adminCookie }));
    expect(schema.status).toBe(200);
    const served = await schema.json();
    expect(served).toEqual(ctx.jobSchema);
    expect(served.properties.spec.required).toEqual(expect.arrayContaining(['cameras', 'models']));
    const attempt = (ip: string) => handlers.login(req('POST', '/api/auth/login', { body: { username: 'admin', password: 'nope' }, headers: { [CLIENT_IP_HEADER]: ip } }));
    for (let i = 0; i < 3; i++) expect((await attempt('10.9.9.9')).status).toBe(401);
    const limited = await attempt('10.9.9.9');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Per user too: the guessed account stays limited from another address; another account does not.
    expect((await attempt('10.9.9.8')).status).toBe(429);
    const other = await handlers.login(req('POST', '/api/auth/login', { body: { username: 'alice', password: 'nope' }, headers: { [CLIENT_IP_HEADER]: '10.9.9.8' } }));
    expect(other.status).toBe(401);
    const bad = await handlers.login(req('POST', '/api/auth/login', { body: { username: 'admin' } }));
    expect(bad.status).toBe(400);
    expect((await bad.json()).field).toBe('password');
  });

  it('creates a job (201), refuses a duplicate (409) and invalid specs with field errors (422)', async () => {
    const created = await handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, body: { metadata: { name: 'one' }, spec } }));
    expect(created.status).toBe(201);
    expect((await created.json()).metadata).toMatchObject({ name: 'one', namespace: 'default', generation: 1 });
    expect((await handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, body: { metadata: { name: 'one' }, spec } }))).status).toBe(409);

    const invalid = await handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, body: { metadata: { name: 'two' }, spec: { ...spec, cameras: [{ ...spec.cameras[0], fps: 0 }] } } }));
    expect(invalid.status).toBe(422);
    const body = await invalid.json();
    expect(body.field).toBe('spec.cameras[0].fps');
    expect(body.errors[0]).toMatchObject({ field: 'spec.cameras[0].fps', reason: 'FieldValueInvalid' });
    // A prototype key is an unknown field like any other: refused by name, not dropped.
    const proto = await handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, raw: `{"metadata":{"name":"proto"},"spec":${JSON.stringify(spec).slice(0, -1)},"__proto__":{"admin":true}}}` }));
    expect([proto.status, (await proto.json()).field]).toEqual([422, 'spec.__proto__']);
    const badName = await handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, body: { metadata: { name: 'Bad_Name' }, spec } }));
    expect((await badName.json()).field).toBe('metadata.name');
  });

  it('bodies: 400 naming the problem for non-JSON, wrong type, empty, non-object; 413 when too large', async () => {
    const post = (o: Parameters<typeof req>[2]) => handlers.createJob(req('POST', '/api/jobs', { cookie: adminCookie, ...o }));
    const cases: Array<[Parameters<typeof req>[2], number, RegExp]> = [
      [{ raw: '{"metadata":' }, 400, /not valid JSON/],
      [{ raw: '{}', type: 'text/plain' }, 400, /Content-Type must be application\/json/],
      [{ raw: '' }, 400, /empty/],
      [{ raw: '[1,2]' }, 400, /JSON object/],
      [{ raw: JSON.stringify({ metadata: { name: 'big' }, spec, pad: 'x'.repeat(300_000) }) }, 413, /larger than/],
    ];
    for (const [o, status, message] of cases) {
      const res = await post(o);
      expect(res.status).toBe(status);
      expect((await res.json()).error).toMatch(message);
    }
  });

  it('namespaces: a user sees and changes only theirs (403 otherwise)', async () => {
    expect((await handlers.createJob(req('POST', '/api/jobs', { cookie: teamCookie, body: { metadata: { name: 'mine', namespace: 'team-a' }, spec } }))).status).toBe(201);
    const forbidden = await handlers.createJob(req('POST', '/api/jobs', { cookie: teamCookie, body: { metadata: { name: 'x' }, spec } }));
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).field).toBe('metadata.namespace');
    const list = await (await handlers.listJobs(req('GET', '/api/jobs', { cookie: teamCookie }))).json();
    expect(list.items.map((j: { metadata: { namespace: string } }) => j.metadata.namespace)).toEqual(['team-a']);
    expect((await handlers.listJobs(req('GET', '/api/jobs?namespace=default', { cookie: teamCookie }))).status).toBe(403);
    expect((await handlers.getJob(req('GET', '/api/jobs/default/one', { cookie: teamCookie }), params('default', 'one'))).status).toBe(403);
    expect((await handlers.deleteJob(req('DELETE', '/api/jobs/default/one', { cookie: teamCookie }), params('default', 'one'))).status).toBe(403);
  });

  it('get 200/404, delete 202/404, bad path parameters 400, cross-site writes 403', async () => {
    expect((await handlers.getJob(req('GET', '/', { cookie: adminCookie }), params('default', 'one'))).status).toBe(200);
    expect((await handlers.getJob(req('GET', '/', { cookie: adminCookie }), params('default', 'nope'))).status).toBe(404);
    const bad = await handlers.getJob(req('GET', '/', { cookie: adminCookie }), params('default', '../x'));
    expect(bad.status).toBe(400);
    expect((await bad.json()).field).toBe('name');
    expect((await handlers.deleteJob(req('DELETE', '/', { cookie: adminCookie, headers: { origin: 'https://evil.example' } }), params('default', 'one'))).status).toBe(403);
    expect((await handlers.deleteJob(req('DELETE', '/', { cookie: adminCookie, headers: { origin: BASE } }), params('default', 'one'))).status).toBe(202);
    expect(await ctx.backend.get('default', 'one')).toBeUndefined();
    expect((await handlers.deleteJob(req('DELETE', '/', { cookie: adminCookie }), params('default', 'one'))).status).toBe(404);
  });

  it('a parallel burst cannot pass the limit while the hashes run (attempts in flight count)', async () => {
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => handlers.login(req('POST', '/api/auth/login', { body: { username: 'ghost', password: 'guess' }, headers: { [CLIENT_IP_HEADER]: '10.7.7.7' } }))),
    );
    const codes = burst.map((r) => r.status);
    // The limiter allows 3 failures: at most 3 attempts reach the password check, the rest are refused.
    expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(3);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(9);
  });

  it('logout ends the session server-side', async () => {
    const cookie = await login('alice', 'alice-pw');
    const res = await handlers.logout(req('POST', '/api/auth/logout', { cookie }));
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await handlers.me(req('GET', '/api/auth/me', { cookie }))).status).toBe(401);
  });

  it("health: the replica's role; 503 when not ready (a leader starting or out of touch), but ?live still 200", async () => {
    expect(await (await handlers.health(req('GET', '/api/health'))).json()).toEqual({ status: 'ok', role: 'single' });
    let h = { ready: true, role: 'standby' } as { ready: boolean; role: string; message?: string };
    publishContext({ ...ctx, health: () => h });
    try {
      const standby = await handlers.health(req('GET', '/api/health'));
      expect([standby.status, await standby.json()]).toEqual([200, { status: 'ok', role: 'standby' }]);
      h = { ready: false, role: 'leader', message: 'leader: lease not renewed for 9000 ms (apiserver unreachable?)' };
      const stale = await handlers.health(req('GET', '/api/health'));
      expect([stale.status, await stale.json()]).toEqual([503, { status: 'unavailable', role: 'leader', message: h.message }]);
      expect((await handlers.health(req('GET', '/api/health?live'))).status).toBe(200);
    } finally {
      publishContext(ctx);
    }
  });

  it('Secure cookies by default over HTTPS: from the connection, or X-Forwarded-Proto only from a trusted proxy', async () => {
    const viaHttps = await handlers.login(req('POST', '/api/auth/login', { body: { username: 'alice', password: 'alice-pw' }, headers: { [CLIENT_PROTO_HEADER]: 'https' } }));
    expect(viaHttps.headers.get('set-cookie')).toMatch(/; Secure$/);
    const plain = await handlers.login(req('POST', '/api/auth/login', { body: { username: 'alice', password: 'alice-pw' } }));
    expect(plain.headers.get('set-cookie')).not.toContain('Secure');
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9, 10.0.0.2' };
    expect(clientOf(headers, { remoteAddress: '10.0.0.3' }, false)).toEqual({ ip: '10.0.0.3', proto: 'http' });
    expect(clientOf(headers, { remoteAddress: '10.0.0.3' }, true)).toEqual({ ip: '10.0.0.2', proto: 'https' });
    expect(clientOf({}, { remoteAddress: '10.0.0.3', encrypted: true }, false)).toEqual({ ip: '10.0.0.3', proto: 'https' });
  });

  it('answers 503 while the control plane is not up', async () => {
    publishContext(undefined);
    try {
      expect((await handlers.health(req('GET', '/api/health'))).status).toBe(503);
    } finally {
      publishContext(ctx);
    }
  });
});
